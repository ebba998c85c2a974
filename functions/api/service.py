"""What the API does: read a body, start an evaluation, describe one. Clients are passed in.

Refusing early is the point: a body is bounded and parsed strictly here, then checked by the same
``validate_request`` the Validate state runs, so a request that would fail costs one Lambda call and
no execution, and the caller gets every problem at once, field by field.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bakeoff.errors import BakeoffError, StorageError
from bakeoff.ids import new_evaluation_id
from bakeoff.jsontext import dump_utf8, parse_json, refusal
from bakeoff.models import API_KEY_ID, Owner
from bakeoff.observability import logger
from bakeoff.settings import Settings
from bakeoff.storage import Store, evaluation_key
from bakeoff.validation import validate_request
from functions.api.models import (
    Accepted,
    ApiSettings,
    Costs,
    EvaluationStatus,
    FailedModel,
    FailureSummary,
    RankedModel,
    Summary,
)

# Step Functions refuses an execution input over 256 KiB (UTF-8), so no larger body can ever run;
# the request's own limits (article 50,000 + prompt 20,000 characters) fit well inside it.
MAX_BODY_BYTES = 256 * 1024
MAX_EXECUTION_INPUT_BYTES = 256 * 1024


class EvaluationNotFoundError(BakeoffError):
    """No execution of this state machine has that name."""


class MissingCallerError(BakeoffError):
    """The request names no API key ID (``requestContext.identity.apiKeyId``): API Gateway fills it on
    every method that requires a key, so its absence means the method was exposed without one."""


class ServiceUnavailableError(BakeoffError):
    """Step Functions could not be reached or refused for now (throttling, an outage): retry later."""

    retryable = True


def read_body(body: str | None, is_base64_encoded: bool) -> Any:
    """The body as parsed JSON, or ``RequestValidationError`` with a ``(body)`` problem.

    Bounded before parsing; strict UTF-8; standard JSON only (no ``NaN``, no duplicate keys);
    nesting too deep for the parser is an error, not a crash.
    """
    if not body:
        raise refusal("(body)", "the body is empty; expected a JSON object")
    if is_base64_encoded:
        if len(body) > MAX_BODY_BYTES * 4 // 3 + 4:
            raise refusal("(body)", f"the body is over {MAX_BODY_BYTES} bytes")
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise refusal("(body)", "the body is marked base64 but is not") from None
    else:
        data = body.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BODY_BYTES:
        raise refusal("(body)", f"the body is {len(data)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refusal("(body)", f"the body is not valid UTF-8 (byte {exc.start})") from None
    return parse_json(text)


def start_evaluation(
    raw: Any,
    *,
    api_key_id: str | None,
    sfn: Any,
    store: Store,
    settings: Settings,
    api: ApiSettings,
    evaluations_url: str,
    now: datetime | None = None,
) -> Accepted:
    """Validate as the Validate state will, record the caller's key as the owner, then start the
    execution named after the evaluation."""
    if not api_key_id or not re.fullmatch(API_KEY_ID, api_key_id):
        raise MissingCallerError("this API needs an API key (x-api-key); none was identified")
    now = now or datetime.now(UTC)
    evaluation_id = new_evaluation_id(now)
    evaluation = validate_request(
        raw, evaluation_id=evaluation_id, created_at=now.isoformat(timespec="seconds"), settings=settings
    )
    # What was validated is what runs: the normalised request, not the caller's bytes.
    encoded = dump_utf8(evaluation.request.dump())
    payload, size = encoded.decode("utf-8"), len(encoded)
    if size > MAX_EXECUTION_INPUT_BYTES:
        raise refusal(
            "(body)",
            f"the request is {size} bytes as UTF-8; Step Functions accepts at most {MAX_EXECUTION_INPUT_BYTES}",
        )
    # Before the execution exists, so no moment shows it without its owner (Validate copies it).
    owner = Owner(api_key_id=api_key_id, created_at=evaluation.created_at)
    try:
        store.put_json(evaluation_key(evaluation_id, "owner.json"), owner.dump())
    except StorageError as exc:
        logger.exception("could not record the owner")
        raise ServiceUnavailableError("the evaluation could not be started; retry shortly") from exc
    try:
        sfn.start_execution(stateMachineArn=api.STATE_MACHINE_ARN, name=evaluation_id, input=payload)
    except (ClientError, BotoCoreError) as exc:
        logger.exception("could not start the execution")
        raise ServiceUnavailableError("the evaluation could not be started; retry shortly") from exc
    logger.info(
        "evaluation started",
        extra={
            "evaluation_id": evaluation_id,
            "models": len(evaluation.request.models),
            "estimated_cost_usd": evaluation.estimate.total_usd,
        },
    )
    return Accepted(
        evaluation_id=evaluation_id,
        status_url=f"{evaluations_url.rstrip('/')}/{evaluation_id}",
        estimated_cost_usd=evaluation.estimate.total_usd,
        warnings=evaluation.warnings,
    )


def owned_by(store: Store, evaluation_id: str, api_key_id: str | None) -> bool:
    """The evaluation was created with this API key. No owner (started without the API) is nobody's."""
    if not api_key_id:
        return False
    try:
        raw = store.get_json(evaluation_key(evaluation_id, "owner.json"))
        return raw is not None and Owner.model_validate(raw).api_key_id == api_key_id
    except StorageError as exc:
        logger.exception("could not read the owner")
        raise ServiceUnavailableError("the status could not be read; retry shortly") from exc
    except ValueError:  # unreadable: owned by nobody, rather than by anybody
        logger.exception("owner.json is unreadable", extra={"evaluation_id": evaluation_id})
        return False


def describe_evaluation(
    evaluation_id: str, *, api_key_id: str | None, sfn: Any, s3: Any, api: ApiSettings, now: datetime | None = None
) -> EvaluationStatus:
    """Status from Step Functions; when it succeeded, the summary from report.json and presigned URLs.

    Another key's evaluation is ``EvaluationNotFoundError`` with the very message an unknown ID gets:
    a caller learns nothing of evaluations it does not own, not even that they exist.
    """
    store = Store(s3, api.BUCKET_NAME)
    if not owned_by(store, evaluation_id, api_key_id):
        raise EvaluationNotFoundError(f"no evaluation {evaluation_id}")
    try:
        described = sfn.describe_execution(executionArn=api.execution_arn(evaluation_id))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ExecutionDoesNotExist", "ResourceNotFound"):
            described = _from_the_bucket(store, evaluation_id, api)
            if described is None:
                raise EvaluationNotFoundError(f"no evaluation {evaluation_id}") from exc
        else:
            logger.exception("could not describe the execution")
            raise ServiceUnavailableError("the status could not be read; retry shortly") from exc
    except BotoCoreError as exc:
        logger.exception("could not describe the execution")
        raise ServiceUnavailableError("the status could not be read; retry shortly") from exc

    status = EvaluationStatus(
        evaluation_id=evaluation_id,
        status=described["status"],
        started_at=_iso(described["startDate"]),
        stopped_at=_iso(described["stopDate"]) if described.get("stopDate") else None,
    )
    if status.status == "SUCCEEDED":
        output = _json_or_none(described.get("output")) or {}
        json_key = output.get("reportKey") or f"{api.REPORT_PREFIX}{evaluation_id}/report.json"
        html_key = output.get("htmlKey") or f"{api.REPORT_PREFIX}{evaluation_id}/report.html"
        report = _read_report(store, json_key)
        status.summary = _summary(report, output)
        now = now or datetime.now(UTC)
        expiry = api.REPORT_URL_EXPIRY_SECONDS
        status.report_url = _presign(s3, api.BUCKET_NAME, html_key, expiry)
        status.report_json_url = _presign(s3, api.BUCKET_NAME, json_key, expiry)
        # The exports the report step writes beside report.json (build.write_report): the CSV always,
        # results.jsonl for a dataset. Signed only when the report was read, so no URL points at nothing.
        folder = json_key.rsplit("/", 1)[0]
        if report is not None:
            status.results_csv_url = _presign(s3, api.BUCKET_NAME, f"{folder}/results.csv", expiry)
        if report is not None and report.get("dataset"):
            status.results_jsonl_url = _presign(s3, api.BUCKET_NAME, f"{folder}/results.jsonl", expiry)
        status.report_url_expires_at = _iso(now + timedelta(seconds=expiry))
    elif status.status in ("FAILED", "TIMED_OUT", "ABORTED"):
        status.error = failure_summary(described.get("error"), described.get("cause"), status.status)
    return status


def _from_the_bucket(store: Store, evaluation_id: str, api: ApiSettings) -> dict[str, Any] | None:
    """An owned evaluation whose execution Step Functions no longer knows (its history expires after 90
    days; offline, the server restarted): its report says it SUCCEEDED; without one it was cut short."""
    try:
        report = store.get_json(f"{api.REPORT_PREFIX}{evaluation_id}/report.json")
        request = store.get_json(evaluation_key(evaluation_id, "request.json")) if report is None else None
    except (StorageError, ValueError):
        logger.exception("could not read the evaluation from the bucket")
        return None
    if isinstance(report, dict) and report.get("createdAt"):
        return {
            "status": "SUCCEEDED",
            "startDate": report["createdAt"],
            "stopDate": report.get("reportedAt"),
            "output": None,
        }
    if isinstance(request, dict) and request.get("createdAt"):
        return {
            "status": "ABORTED",
            "startDate": request["createdAt"],
            "error": "ExecutionLost",
            "cause": "the evaluation stopped before it wrote its report (its execution is gone: the "
            "offline server restarted, or Step Functions no longer keeps its history). Submit "
            "the same request again: every answer and verdict already received is reused.",
        }
    return None


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    return str(value)


def _json_or_none(text: Any) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _presign(s3: Any, bucket: str, key: str, expiry: int) -> str:
    return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expiry)


def _read_report(store: Store, report_key: str) -> dict[str, Any] | None:
    try:
        report = store.get_json(report_key)
    except (StorageError, ValueError):
        logger.exception("report.json unreadable; summarising the execution output")
        return None
    return report if isinstance(report, dict) else None


def _summary(report: dict[str, Any] | None, output: dict[str, Any]) -> Summary:
    """From report.json; from the execution output alone (ranking, total) when the report is unreadable."""
    if report is None:
        ranking = [
            RankedModel(
                rank=r.get("rank", i + 1), model_id=r.get("modelId", "?"), weighted_score=r.get("weightedScore")
            )
            for i, r in enumerate(output.get("ranking", []))
        ]
        return Summary(
            winner=ranking[0].model_id if ranking else None,
            ranking=ranking,
            costs=Costs(total_usd=output.get("totalCostUsd")),
            complete=False,
        )
    models = report.get("models", [])
    ranked = sorted((m for m in models if "rank" in m), key=lambda m: m["rank"])
    totals = report.get("totals", {})
    return Summary(
        winner=report.get("winner"),
        ranking=[
            RankedModel(
                rank=m["rank"],
                model_id=m["modelId"],
                weighted_score=m.get("weightedScore"),
                scores={
                    name: s["score"]
                    for name, s in (m.get("scores") or {}).items()
                    if isinstance(s, dict) and isinstance(s.get("score"), int)
                },
                cost_usd=m.get("costUsd"),
            )
            for m in ranked
        ],
        # Answered but without a score: the judge could not use its verdict, or never judged the answer.
        unscored=[m["modelId"] for m in models if m.get("status") == "ok" and m.get("scoreStatus") != "scored"],
        failed=[
            FailedModel(
                model_id=m["modelId"],
                error=(m.get("error") or {}).get("error", "Unknown"),
                message=str((m.get("error") or {}).get("message", ""))[:300],
            )
            for m in models
            if m.get("status") == "failed"
        ],
        costs=Costs(
            candidate_usd=totals.get("candidateCostUsd"),
            judge_usd=totals.get("judgeCostUsd"),
            total_usd=report.get("totalCostUsd"),
            estimated_usd=report.get("estimatedCostUsd"),
        ),
    )


def failure_summary(error: str | None, cause: str | None, status: str) -> FailureSummary:
    """The Lambda error JSON in ``cause`` unwrapped to its message (and field errors); no stack trace."""
    message = cause or ""
    errors: list[dict[str, str]] = []
    outer = _json_or_none(cause)
    if isinstance(outer, dict) and "errorMessage" in outer:
        message = str(outer["errorMessage"])
        inner = _json_or_none(message) if message.startswith("{") else None
        if isinstance(inner, dict):
            message = str(inner.get("message", message))
            found = inner.get("errors")
            if isinstance(found, list):
                errors = [
                    {"field": str(e.get("field", "")), "message": str(e.get("message", ""))[:300]}
                    for e in found[:20]
                    if isinstance(e, dict)
                ]
    return FailureSummary(error=error or status, cause=message[:1000], errors=errors)
