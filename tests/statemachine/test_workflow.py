"""The real statemachine/evaluation.asl.json, executed offline by moto with the real handlers.

Models sit behind a scripted Converse endpoint (the network boundary), reached through real
boto3, so Retry/Catch paths are driven by the HTTP errors Bedrock itself would send.
"""

from __future__ import annotations

from converse_local.faults import Fault
from tests.conftest import offline
from tests.support.converse_fakes import ScriptedModels, good_responder, no_access

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
LLAMA = "meta.llama3-70b-instruct-v1:0"
MISTRAL = "mistral.mistral-large-2402-v1:0"


def candidate_calls(server, model_id):
    return sum(1 for m, body in server.requests if m == model_id and "toolConfig" not in body)


def test_three_models_answer_and_the_report_has_three_scored_entries(bedrock_request):
    # Given three candidates that answer and a judge that scores
    with offline() as (stack, server):
        # When the evaluation runs
        execution = stack.run(bedrock_request)
        # Then it succeeds with three scored entries, each with real usage and output
        assert execution.succeeded, execution.cause
        report = stack.report(execution.evaluation_id)
    entries = report["models"]
    assert sorted(e["modelId"] for e in entries) == sorted([CLAUDE, LLAMA, MISTRAL])
    assert all(e["status"] == "ok" and e["scoreStatus"] == "scored" for e in entries)
    assert all(e["usage"] == {"inputTokens": 1200, "outputTokens": 300} for e in entries)
    assert all(e["weightedScore"] == 7.0 and e["output"] for e in entries)
    assert report["judgeModelId"] == bedrock_request["judgeModelId"]
    assert [c["name"] for c in report["criteria"]] == list(bedrock_request["scoringCriteria"])
    assert report["totals"]["scored"] == 3 and report["totals"]["failed"] == 0
    # and each candidate was called exactly once
    assert [candidate_calls(server, m) for m in (CLAUDE, LLAMA, MISTRAL)] == [1, 1, 1]


def test_a_model_throttled_twice_is_retried_and_its_answer_kept(bedrock_request):
    with offline(faults={LLAMA: Fault(throttle_first=2)}) as (stack, server):
        execution = stack.run(bedrock_request)
        report = stack.report(execution.evaluation_id)
    assert execution.succeeded, execution.cause
    llama = next(e for e in report["models"] if e["modelId"] == LLAMA)
    assert llama["status"] == "ok" and llama["scoreStatus"] == "scored"
    assert server.calls[LLAMA] == 3  # two throttled, then the answer
    assert server.calls[CLAUDE] == 1


def test_a_model_failing_for_good_is_recorded_and_the_others_are_scored(bedrock_request):
    with offline(ScriptedModels(by_model={MISTRAL: no_access()})) as (stack, server):
        execution = stack.run(bedrock_request)
        report = stack.report(execution.evaluation_id)
    assert execution.succeeded, execution.cause
    failed = [e for e in report["models"] if e["status"] == "failed"]
    scored = [e for e in report["models"] if e["scoreStatus"] == "scored"]
    assert [e["modelId"] for e in failed] == [MISTRAL]
    assert failed[0]["error"]["error"] == "ModelAccessDeniedError"
    assert "access to the model" in failed[0]["error"]["message"]
    assert failed[0]["weightedScore"] is None and "rank" not in failed[0]
    assert len(scored) == 2
    assert server.calls[MISTRAL] == 1  # not retryable: called once, not retried
    assert report["totals"] == report["totals"] | {"ok": 2, "failed": 1, "scored": 2}


def test_a_model_always_throttled_exhausts_its_retries_and_only_it_is_lost(bedrock_request):
    with offline(faults={CLAUDE: Fault(always_throttle=True)}) as (stack, server):
        execution = stack.run(bedrock_request)
        report = stack.report(execution.evaluation_id)
    assert execution.succeeded
    claude = next(e for e in report["models"] if e["modelId"] == CLAUDE)
    assert claude["status"] == "failed" and claude["error"]["error"] == "ModelThrottledError"
    assert server.calls[CLAUDE] == 5  # 1 + MaxAttempts 4 of the throttling Retry
    assert sum(e["scoreStatus"] == "scored" for e in report["models"]) == 2


def test_the_three_branches_run_concurrently(bedrock_request):
    # Given each candidate takes 1 s to answer
    with offline(good_responder(delay=1.0)) as (stack, _server):
        execution = stack.run(bedrock_request)
        invocations = [i for i in stack.lambda_server.invocations if i.function == "InvokeModelFunction"]
    assert execution.succeeded
    # Then the Map spans well under the 3 s that one-after-another would take
    span = max(i.started + i.seconds for i in invocations) - min(i.started for i in invocations)
    assert len(invocations) == 3
    assert span < 2.5, f"Map took {span:.2f}s for 3 x 1 s answers (one after another: 3 s)"


def test_an_invalid_request_fails_in_validate_before_any_model_is_called(bedrock_request):
    bad = dict(bedrock_request, models=[], article="short")
    with offline() as (stack, server):
        execution = stack.run(bad)
    assert execution.status == "FAILED"
    assert execution.error == "RequestValidationError"
    fields = {e["field"] for e in execution.cause_json()["errors"]}
    assert {"article", "models"} <= fields
    assert sum(server.calls.values()) == 0
