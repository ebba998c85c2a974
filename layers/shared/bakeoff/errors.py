"""Errors that cross the state machine boundary.

For a Python Lambda, the exception class name becomes the Step Functions error name, so every
class here is also a name that ``statemachine/evaluation.asl.json`` may use in ``ErrorEquals``
(a test holds the two in step). Retryable and terminal errors are named apart on purpose: the
ASL retries only what can succeed on retry.
"""

from __future__ import annotations

import json
from typing import Any


class BakeoffError(Exception):
    """Base class. ``details`` travels as JSON in the error message (the ``Cause`` in Step Functions)."""

    retryable = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        if not self.details:
            return self.message
        return json.dumps({"message": self.message, **self.details}, default=str)


# --- request (terminal: the caller must fix the request; nothing has been invoked) -------------


class RequestValidationError(BakeoffError):
    """The evaluation request is invalid. ``details["errors"]`` lists ``{field, message}``."""


class BudgetExceededError(RequestValidationError):
    """The preflight cost estimate is over the request's or the deployment's budget."""


# --- model calls ----------------------------------------------------------------------------


class ModelThrottledError(BakeoffError):
    """Bedrock throttled the call (ThrottlingException, ServiceQuotaExceeded, 429)."""

    retryable = True


class ModelTimeoutError(BakeoffError):
    """The model did not answer in time (ModelTimeoutException or a client read timeout)."""

    retryable = True


class ModelServiceError(BakeoffError):
    """Bedrock failed on its side (InternalServerException, ServiceUnavailable, 5xx)."""

    retryable = True


class ModelNotReadyError(BakeoffError):
    """The model is not ready to serve yet (ModelNotReadyException); may succeed later."""

    retryable = True


class ModelAccessDeniedError(BakeoffError):
    """The account has no access to this model, or the role may not invoke it."""


class ModelNotFoundError(BakeoffError):
    """The model ID does not exist in this region (ResourceNotFoundException)."""


class InvalidModelRequestError(BakeoffError):
    """Bedrock refused the request itself (ValidationException): retrying cannot help."""


class ModelOutputError(BakeoffError):
    """The model answered, but with nothing usable (empty text)."""


class BatchRecordError(BakeoffError):
    """Bedrock's batch job returned an error line for this record (its ``errorCode`` and ``errorMessage`` are
    in the details). Terminal for this run: a rerun submits the record again."""


class BatchJobError(BakeoffError):
    """A batch inference job ended without answering this record (Failed, Stopped, Expired), or could not be
    created or read. Terminal: retrying the state would not make the job answer."""


# --- storage --------------------------------------------------------------------------------


class DeadlineExceededError(BakeoffError):
    """The evaluation's deadline (``deadlineSeconds``) passed: this call is not made, and it is not retried.
    Answers already received stay; the report is written with what there is."""


class StorageError(BakeoffError):
    """S3 read or write failed; transient, so the ASL retries it."""

    retryable = True


class CheckpointCorruptError(BakeoffError):
    """A stored checkpoint failed validation; it is recomputed, never trusted."""


# --- later states ---------------------------------------------------------------------------


class ScoringError(BakeoffError):
    """The score step could not run at all (not: one answer unscored; that is a normal result)."""


class ReportError(BakeoffError):
    """The report step could not write the report."""


def parse_cause(cause: str | None) -> dict[str, Any] | None:
    """The details of a failed Lambda task, from the ``Cause`` Step Functions records.

    The Cause is the runtime's error JSON (``{errorMessage, errorType, stackTrace}``), and for our own
    errors ``errorMessage`` is the JSON of ``BakeoffError.__str__``: return that inner object, or
    ``{"message": errorMessage}`` for any other error; None when the Cause is not such JSON.
    """
    try:
        outer = json.loads(cause or "")
    except ValueError:
        return None
    if not isinstance(outer, dict) or "errorMessage" not in outer:
        return None
    message = str(outer["errorMessage"])
    try:
        inner = json.loads(message) if message.startswith("{") else None
    except ValueError:
        inner = None
    return inner if isinstance(inner, dict) else {"message": message}


RETRYABLE_MODEL_ERRORS = (ModelThrottledError, ModelTimeoutError, ModelServiceError, ModelNotReadyError)


def all_error_names() -> set[str]:
    """Every exception class name defined here (the names the ASL may catch).

    Read from this module's own namespace, not from ``BakeoffError.__subclasses__()``: that list grows
    with every module imported so far (an API error, a test's own subclass), so the answer depended
    on which modules the caller had happened to import first.
    """
    return {
        value.__name__
        for value in globals().values()
        if isinstance(value, type) and issubclass(value, BakeoffError) and value.__module__ == __name__
    }
