"""ApiFunction: ``POST /evaluations`` and ``GET /evaluations/{evaluationId}`` behind API Gateway.

API Gateway has already checked the API key, the usage plan and the body's JSON schema; this function
applies the full validation (models, judge, limits, cost) so a request that would fail never starts.
"""

import os

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.utilities.parser import parse
from botocore.config import Config
from pydantic import ValidationError

from bakeoff.errors import BudgetExceededError, RequestValidationError
from bakeoff.observability import MetricUnit, logger, metrics, tracer
from bakeoff.settings import Settings
from bakeoff.storage import Store
from bakeoff.validation import field_errors
from functions.api.models import ApiSettings, EvaluationRef
from functions.api.service import (
    EvaluationNotFoundError,
    MissingCallerError,
    ServiceUnavailableError,
    describe_evaluation,
    read_body,
    start_evaluation,
)

settings = Settings.from_env(os.environ)
api_settings = ApiSettings.from_env(os.environ)
sfn = boto3.client("stepfunctions")
s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
store = Store(s3, api_settings.BUCKET_NAME)

cors = (
    CORSConfig(allow_origin=api_settings.CORS_ALLOW_ORIGIN, allow_headers=["X-Api-Key"], max_age=600)
    if api_settings.CORS_ALLOW_ORIGIN
    else None
)
app = APIGatewayRestResolver(cors=cors)


def _json(status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def _evaluations_url() -> str:
    """Where this request arrived, so statusUrl works behind the stage path or a custom domain."""
    event = app.current_event
    context = event.raw_event.get("requestContext") or {}
    proto = event.headers.get("x-forwarded-proto", "https")
    host = context.get("domainName") or event.headers.get("host", "")
    return f"{proto}://{host}{context.get('path') or event.path}"


def _api_key_id() -> str | None:
    """The caller: API Gateway's ID of the API key the request came with (the tenant)."""
    return app.current_event.request_context.identity.api_key_id or None


@app.post("/evaluations")
def post_evaluation() -> Response:
    event = app.current_event
    raw = read_body(event.body, bool(event.is_base64_encoded))
    accepted = start_evaluation(
        raw,
        api_key_id=_api_key_id(),
        sfn=sfn,
        store=store,
        settings=settings,
        api=api_settings,
        evaluations_url=_evaluations_url(),
    )
    metrics.add_metric(name="EvaluationsStarted", unit=MetricUnit.Count, value=1)
    return _json(202, accepted.dump(), {"Location": accepted.status_url})


@app.get("/evaluations/<evaluationId>")
def get_evaluation(evaluationId: str) -> Response:  # noqa: N803 - the path parameter's name
    ref = parse(event=app.current_event.path_parameters or {}, model=EvaluationRef)
    status = describe_evaluation(ref.evaluation_id, api_key_id=_api_key_id(), sfn=sfn, s3=s3, api=api_settings)
    return _json(200, status.dump_all(), {"Cache-Control": "no-store"})


@app.exception_handler(RequestValidationError)
def _refused(exc: RequestValidationError) -> Response:
    errors = exc.details.get("errors") or [{"field": "(body)", "message": exc.message}]
    # Field names only: messages may quote what the caller sent.
    logger.info("request refused", extra={"fields": [e.get("field") for e in errors][:20]})
    metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
    body = {"message": exc.message, "errors": errors}
    if isinstance(exc, BudgetExceededError) and "estimate" in exc.details:
        body["estimate"] = exc.details["estimate"]
    return _json(400, body)


@app.exception_handler(ValidationError)
def _bad_path(exc: ValidationError) -> Response:
    return _json(400, {"message": "the path is invalid", "errors": field_errors(exc)})


@app.exception_handler(EvaluationNotFoundError)
def _not_found(exc: EvaluationNotFoundError) -> Response:
    return _json(404, {"message": exc.message})


@app.exception_handler(MissingCallerError)
def _no_caller(exc: MissingCallerError) -> Response:
    return _json(403, {"message": exc.message})


@app.exception_handler(ServiceUnavailableError)
def _unavailable(exc: ServiceUnavailableError) -> Response:
    return _json(503, {"message": exc.message}, {"Retry-After": "2"})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
