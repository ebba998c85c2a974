"""Bedrock batch inference records (``inference: "batch"``): the JSONL format both ways, and what a job did.

- One input line per answer, ``{"recordId", "modelInput"}``, where ``modelInput`` is the Converse request
  body a candidate would be sent on-demand (``bakeoff.answers.candidate_request``), for a job created with
  ``modelInvocationType: Converse``.
- The output lines Bedrock writes to ``<output>/<jobId>/<input name>.out``: ``{"recordId", "modelInput",
  "modelOutput"}`` with the Converse response body, or ``"error": {"errorCode", "errorMessage"}`` instead.
- The outcome of each record for this evaluation, written by the batch step when it reads a job back and
  read by the model step, which turns it into the branch result without calling the model again.

A record's ID is the hash in its answer's checkpoint key, so every output line maps back to the
checkpoint it fills, and answers made by a batch job are found by any later run, on-demand ones included.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from bakeoff.answers import answer_key, candidate_request
from bakeoff.errors import BakeoffError, BatchJobError, BatchRecordError, ModelOutputError
from bakeoff.models import Contract, ModelResult, Usage
from bakeoff.storage import Store, evaluation_key

# --- records ----------------------------------------------------------------------------------


class BatchRecord(Contract):
    """One line of a job's input JSONL."""

    record_id: str
    model_input: Annotated[
        dict[str, Any], Field(description="A Converse request body (no modelId: the job names the model).")
    ]


class BatchLineError(Contract):
    error_code: int | str | None = None
    error_message: str = ""


class BatchOutputLine(Contract):
    """One line of a job's ``.jsonl.out``: the record with its Converse response, or with an error."""

    record_id: str
    model_output: dict[str, Any] | None = None
    error: BatchLineError | None = None


def record_id_of(key: str) -> str:
    """The record ID of an answer checkpoint key: its content hash (alphanumeric, unique per answer)."""
    return key.rsplit("/", 1)[-1].removesuffix(".json")


def record_for(evaluation: Any, model_id: str) -> tuple[str, BatchRecord]:
    """The answer's checkpoint key and its batch record: the same request an on-demand call would send."""
    key = answer_key(evaluation, model_id)
    body = {k: v for k, v in candidate_request(evaluation, model_id).items() if k != "modelId"}
    return key, BatchRecord(record_id=record_id_of(key), model_input=body)


def records_jsonl(records: list[BatchRecord]) -> bytes:
    return "".join(json.dumps(r.dump(), ensure_ascii=False, separators=(",", ":")) + "\n" for r in records).encode()


def parse_output(body: bytes) -> tuple[list[BatchOutputLine], int]:
    """The lines of a ``.jsonl.out`` and how many could not be read (such a record counts as unanswered)."""
    lines, bad = [], 0
    for text in body.decode("utf-8", errors="replace").split("\n"):
        if not text.strip():
            continue
        try:
            lines.append(BatchOutputLine.model_validate(json.loads(text)))
        except (ValueError, ValidationError):
            bad += 1
    return lines, bad


# --- outcomes: what this evaluation's job did with each record --------------------------------


class BatchOutcome(Contract):
    """``evaluations/<id>/batch/outcomes/<recordId>.json``: the record's answer (checkpointed at
    ``answer_key``) or why there is none. Per evaluation, never shared: a rerun asks a failed record again."""

    model_id: str
    status: Literal["ok", "failed"]
    answer_key: str | None = None
    usage: Usage | None = None
    stop_reason: str | None = None
    error: str | None = None
    message: str = ""
    details: dict[str, Any] = {}


_OUTCOME_ERRORS: dict[str, type[BakeoffError]] = {
    cls.__name__: cls for cls in (BatchRecordError, BatchJobError, ModelOutputError)
}


def parent_evaluation_id(evaluation_id: str) -> str:
    """A dataset item's evaluation ID is ``<parent>~<itemId>`` (``bakeoff.validation.item_evaluation_id``)."""
    return evaluation_id.split("~", 1)[0]


def outcome_key(evaluation_id: str, record_id: str) -> str:
    return evaluation_key(evaluation_id, f"batch/outcomes/{record_id}.json")


def batch_outcome(store: Store, evaluation: Any, model_id: str) -> ModelResult | None:
    """The branch result of ``model_id`` on this dataset item when its evaluation's batch job dealt with it;
    None when it did not (an answer checkpointed earlier, or a remainder too small for a job): then the
    model step answers as on-demand does. A failed record raises its error, for the ASL's Catch."""
    key = answer_key(evaluation, model_id)
    raw = store.get_json(outcome_key(parent_evaluation_id(evaluation.evaluation_id), record_id_of(key)))
    if raw is None:
        return None
    outcome = BatchOutcome.model_validate(raw)
    if outcome.status == "failed":
        error = _OUTCOME_ERRORS.get(outcome.error or "", BatchJobError)
        raise error(f"{model_id}: {outcome.message}", modelId=model_id, **outcome.details)
    return ModelResult(
        model_id=model_id,
        status="ok",
        answer_key=outcome.answer_key,
        usage=outcome.usage,
        stop_reason=outcome.stop_reason,
        inference="batch",
    )
