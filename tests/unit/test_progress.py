"""What `bakeoff local run` prints while it works: retries shown as retries, live call lines, and text
from requests and models printed as written (never read as rich markup)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from rich.console import Console

from bakeoff_cli.console import print_refusal
from bakeoff_cli.progress import Progress, Retries, _call_line
from tests.conftest import ROOT

DEFINITION = json.loads((ROOT / "statemachine" / "evaluation.asl.json").read_text())


def console() -> Console:
    return Console(record=True, width=200, force_terminal=False)


def failed(model: str, error: str, message: str = "") -> SimpleNamespace:
    body = {"errorType": error, "errorMessage": json.dumps({"message": message})}
    return SimpleNamespace(
        function="InvokeModelFunction", payload={"modelId": model}, result=body, error_type=error, seconds=0.1
    )


def test_a_retryable_failure_is_a_retry_until_the_retries_run_out():
    out = console()
    retries = Retries(DEFINITION)
    allowed = retries.allowed("ModelServiceError")
    assert allowed >= 1 and retries.allowed("ModelAccessDeniedError") == 0
    progress = Progress(out, retries)
    for _ in range(allowed + 1):
        progress.on_finish(failed("m1", "ModelServiceError", "endpoint unreachable"))
    lines = out.export_text().splitlines()
    assert [("retrying" in line) for line in lines] == [True] * allowed + [False]
    assert "recorded as failed" in lines[-1] and "endpoint unreachable" in lines[-1]


def test_a_failure_no_retry_covers_is_shown_as_failed_at_once():
    out = console()
    Progress(out, Retries(DEFINITION)).on_finish(failed("m1", "ModelAccessDeniedError"))
    assert "recorded as failed" in out.export_text() and "retrying" not in out.export_text()


def test_markup_in_model_ids_and_messages_is_printed_as_written():
    out = console()
    progress = Progress(out, Retries(DEFINITION))
    progress.on_start("InvokeModelFunction", {"modelId": "[bold]m[/x]"})
    progress.on_finish(failed("[bold]m[/x]", "ModelAccessDeniedError", "pattern [a-z]+ [/]"))
    print_refusal("RequestValidationError", {"errors": [{"field": "[/x]", "message": "use [0-9]{3}"}]}, local=False)
    text = out.export_text()
    assert "[bold]m[/x]: answering" in text and "pattern [a-z]+ [/]" in text


def test_a_live_call_line_gives_tokens_rate_and_an_eta():
    line = _call_line(
        {"modelId": "m", "tool": False, "phase": "writing", "since": 100.0, "outputTokens": 50, "maxTokens": 300},
        now=110.0,
    )
    assert line == "  m answering: 50/300 tokens, 5.0 tokens/s, ETA ≤ 50s"
    reading = _call_line(
        {"modelId": "j", "tool": True, "phase": "reading", "since": 100.0, "inputTokens": 900}, now=103.0
    )
    assert reading == "  j judging: reading 900 prompt tokens (3s)"
