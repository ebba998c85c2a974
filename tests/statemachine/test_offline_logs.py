"""Offline, every handler shares the layer's one Powertools Logger; each invocation still logs as its
own function (service, Lambda context, cold start), as it would in its own Lambda container."""

from __future__ import annotations

import sys
from collections import defaultdict

from tests.conftest import offline
from tests.support.converse_fakes import ScriptedModels, answer
from tests.support.printed import printed_objects

SERVICES = {
    "ValidateFunction": "validate",
    "InvokeModelFunction": "invoke_model",
    "ScoreFunction": "score",
    "ReportFunction": "report",
}


def log_lines(out: str) -> list[dict]:
    return printed_objects(out, '{"level"')


def to_this_tests_stdout(stack) -> None:
    """The layer's Logger writes to the stdout of the test that first imported it; point it here."""
    handler = stack.module("ScoreFunction").logger.registered_handler
    with handler.lock:  # not setStream: it flushes the old stream, which that test's end closed
        handler.stream = sys.stdout


def test_each_invocation_logs_as_its_own_function(bedrock_request, capfd):
    with offline() as (stack, _server):
        to_this_tests_stdout(stack)
        capfd.readouterr()
        execution = stack.run(bedrock_request)
        out = capfd.readouterr().out
    assert execution.succeeded
    lines = log_lines(out)  # only the handlers log through Powertools: every line must say whose it is
    anonymous = [line for line in lines if "function_name" not in line]
    assert lines and not anonymous, anonymous
    by_function = defaultdict(list)
    for line in lines:
        by_function[line["function_name"].split(":")[-1]].append(line)
    assert set(by_function) >= {"InvokeModelFunction", "ScoreFunction"}, sorted(by_function)
    for function, records in by_function.items():
        assert {r["service"] for r in records} == {SERVICES[function]}, function
        assert all(r["function_arn"].endswith(f":function:{function}") for r in records)
    answered = [r for r in by_function["InvokeModelFunction"] if r["message"] == "answered"]
    assert len(answered) == 3 and len({r["function_request_id"] for r in answered}) == 3
    # one cold start per function (container), however many invocations
    for function, records in by_function.items():
        assert sum(1 for r in records if r["cold_start"]) <= 1, function
    assert [r["cold_start"] for r in answered].count(True) == 1  # three at once, one container start


def test_a_judge_worker_threads_warning_logs_as_the_score_function(bedrock_request, capfd):
    unusable_judge = ScriptedModels(judge=answer("no verdict here", input_tokens=10, output_tokens=3))
    with offline(unusable_judge) as (stack, _server):
        to_this_tests_stdout(stack)
        capfd.readouterr()
        execution = stack.run(bedrock_request)
        out = capfd.readouterr().out
    assert execution.succeeded
    warnings = [line for line in log_lines(out) if "unusable twice" in line["message"]]
    assert warnings, "the judge's unusable replies were not logged"
    assert {w["service"] for w in warnings} == {"score"}
    assert {w["function_name"].split(":")[-1] for w in warnings} == {"ScoreFunction"}
