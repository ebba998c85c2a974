"""The API function's logic in isolation: reading a body, naming executions, summarising failures."""

from __future__ import annotations

import base64
import json

import pytest

from bakeoff.errors import RequestValidationError
from functions.api.models import ApiSettings
from functions.api.service import MAX_BODY_BYTES, failure_summary, read_body

ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:bakeoff-evaluation"


def refusal(body: str | None, encoded: bool = False) -> dict[str, str]:
    with pytest.raises(RequestValidationError) as caught:
        read_body(body, encoded)
    (error,) = caught.value.details["errors"]
    return error


def test_reads_plain_and_base64_json() -> None:
    assert read_body('{"a": [1, 2]}', False) == {"a": [1, 2]}
    assert read_body(base64.b64encode(b'{"a": "\xc3\xa9"}').decode(), True) == {"a": "é"}


@pytest.mark.parametrize(
    ("body", "encoded", "field", "words"),
    [
        (None, False, "(body)", "empty"),
        ("", False, "(body)", "empty"),
        ("not json", False, "(body)", "not valid JSON"),
        ('{"t": NaN}', False, "(body)", "not valid JSON"),
        ('{"t": Infinity}', False, "(body)", "not valid JSON"),
        ('{"article": "a", "article": "b"}', False, "article", "twice"),
        ('{"x": {"k": 1, "k": 2}}', False, "k", "twice"),
        ("[" * 5000 + "]" * 5000, False, "(body)", "nested too deeply"),
        ("!!!", True, "(body)", "base64"),
        (base64.b64encode(b"\xff\xfe").decode(), True, "(body)", "UTF-8"),
        ("a" * (MAX_BODY_BYTES + 1), False, "(body)", "limit"),
    ],
    ids=[
        "none",
        "empty",
        "text",
        "nan",
        "infinity",
        "duplicate",
        "nested-duplicate",
        "deep",
        "bad-base64",
        "latin1",
        "too-big",
    ],
)
def test_refuses_what_no_parser_should_chew_on(body, encoded, field, words) -> None:
    error = refusal(body, encoded)
    assert error["field"] == field
    assert words in error["message"]


def test_execution_arn_follows_from_the_state_machine() -> None:
    api = ApiSettings(BUCKET_NAME="bucket", STATE_MACHINE_ARN=ARN)
    assert api.execution_arn("20250101T000000Z-0123abcd") == (
        "arn:aws:states:eu-west-1:123456789012:execution:bakeoff-evaluation:20250101T000000Z-0123abcd"
    )


def test_settings_refuse_a_bad_arn_or_expiry() -> None:
    with pytest.raises(ValueError):
        ApiSettings(BUCKET_NAME="bucket", STATE_MACHINE_ARN="EvaluationStateMachine")
    with pytest.raises(ValueError):
        ApiSettings(BUCKET_NAME="bucket", STATE_MACHINE_ARN=ARN, REPORT_URL_EXPIRY_SECONDS=86400)


def test_failure_summary_unwraps_the_lambda_error_and_drops_the_stack() -> None:
    inner = {
        "message": "the request is invalid (1 problem(s))",
        "errors": [{"field": "models[0]", "message": "not allowed"}],
    }
    cause = json.dumps(
        {
            "errorMessage": json.dumps(inner),
            "errorType": "RequestValidationError",
            "stackTrace": ['  File "/var/task/app.py", line 1'],
        }
    )
    summary = failure_summary("RequestValidationError", cause, "FAILED")
    assert summary.error == "RequestValidationError"
    assert summary.cause == inner["message"]
    assert summary.errors == inner["errors"]
    assert "var/task" not in json.dumps(summary.dump())


def test_failure_summary_of_a_plain_cause_and_of_none() -> None:
    assert failure_summary("States.Timeout", "State timed out", "TIMED_OUT").cause == "State timed out"
    assert failure_summary(None, None, "ABORTED").error == "ABORTED"
