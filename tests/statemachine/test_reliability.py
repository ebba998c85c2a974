"""Nothing lost, nothing billed twice: faults driven through the real boto3 path at the Converse
and S3 boundaries, with Converse calls counted per model where they arrive."""

from __future__ import annotations

import time

from converse_local.faults import Fault
from tests.conftest import offline
from tests.support.s3_faults import FailingPuts, store_client

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
LLAMA = "meta.llama3-70b-instruct-v1:0"
MISTRAL = "mistral.mistral-large-2402-v1:0"
CANDIDATES = (CLAUDE, LLAMA, MISTRAL)
JUDGE = "amazon.nova-pro-v1:0"


def candidate_calls(server) -> dict[str, int]:
    return {m: sum(1 for mid, body in server.requests if mid == m and "toolConfig" not in body) for m in CANDIDATES}


def judge_calls(server) -> int:
    return sum(1 for _mid, body in server.requests if "toolConfig" in body)


def entry(report, model_id):
    return next(e for e in report["models"] if e["modelId"] == model_id)


def test_a_500_once_is_retried(bedrock_request):
    with offline(faults={MISTRAL: Fault(fail_first=1)}) as (stack, server):
        execution = stack.run(bedrock_request)
        report = stack.report(execution.evaluation_id)
    assert entry(report, MISTRAL)["scoreStatus"] == "scored"
    assert server.calls[MISTRAL] == 2


def test_a_hanging_model_ends_as_a_recorded_timeout_and_the_others_are_kept(bedrock_request):
    # Given a model that never answers and a 1 s read timeout on the Converse client
    with offline(faults={LLAMA: Fault(hang=True)}, env={"MODEL_READ_TIMEOUT_SECONDS": "1"}) as (stack, server):
        started = time.perf_counter()
        execution = stack.run(bedrock_request)
        elapsed = time.perf_counter() - started
        report = stack.report(execution.evaluation_id)
    llama = entry(report, LLAMA)
    assert llama["status"] == "failed" and llama["error"]["error"] == "ModelTimeoutError"
    assert server.calls[LLAMA] == 2  # the call and its one timeout retry
    assert elapsed < 15, f"a hanging model held the run for {elapsed:.1f}s"
    assert sum(e["scoreStatus"] == "scored" for e in report["models"]) == 2


def test_malformed_judge_output_is_unscored_and_the_answers_kept(bedrock_request):
    with offline(faults={JUDGE: Fault(malformed_tool_output=True)}) as (stack, server):
        execution = stack.run(bedrock_request | {"controlAnswer": False})
        report = stack.report(execution.evaluation_id)
    assert execution.succeeded
    assert all(e["status"] == "ok" and e["output"] for e in report["models"])
    assert all(e["scoreStatus"] == "unscored" and e["weightedScore"] is None for e in report["models"])
    assert report["judgeHealth"]["unscoredRate"] == 1.0
    assert judge_calls(server) == 6  # each verdict asked for twice, then given up


def test_an_s3_write_failing_once_is_retried_without_a_second_model_call(bedrock_request):
    with offline() as (stack, server):
        fault = FailingPuts(store_client(stack, "InvokeModelFunction"), times=1, key_prefix="checkpoints/answers/")
        execution = stack.run(bedrock_request)
        report = stack.report(execution.evaluation_id)
    assert fault.failed == 1
    assert execution.succeeded and all(e["scoreStatus"] == "scored" for e in report["models"])
    assert candidate_calls(server) == {m: 1 for m in CANDIDATES}


def test_a_failed_report_step_is_resumed_without_calling_any_model_again(bedrock_request):
    with offline() as (stack, server):
        # Given the report step cannot write (every attempt, every retry)
        fault = FailingPuts(store_client(stack, "ReportFunction"), times=None, key_prefix="reports/")
        first = stack.run(bedrock_request)
        assert first.status == "FAILED" and first.error == "StorageError"
        calls_before = (candidate_calls(server), judge_calls(server))
        # When the fault clears and the same request runs again (moto has no RedriveExecution)
        fault.clear()
        rerun = stack.run(bedrock_request)
        report = stack.report(rerun.evaluation_id) if rerun.succeeded else None
    # Then no model is called again, and the report is complete
    assert calls_before[0] == {m: 1 for m in CANDIDATES}
    assert rerun.succeeded, rerun.cause
    assert (candidate_calls(server), judge_calls(server)) == calls_before
    assert all(e["scoreStatus"] == "scored" and e["cached"] for e in report["models"])


def test_an_identical_rerun_calls_nothing_and_use_cache_false_calls_everything(bedrock_request):
    with offline() as (stack, server):
        stack.run(bedrock_request)
        first = sum(server.calls.values())
        again = stack.run(bedrock_request)
        after_rerun = sum(server.calls.values())
        fresh = stack.run(bedrock_request | {"useCache": False})
        after_fresh = sum(server.calls.values())
    assert again.succeeded and after_rerun == first
    assert fresh.succeeded and after_fresh - after_rerun == first


def test_rejudging_calls_only_the_judge(bedrock_request):
    with offline() as (stack, server):
        stack.run(bedrock_request)
        before = candidate_calls(server)
        rejudged = stack.run(bedrock_request | {"judgeModelId": "cohere.command-r-v1:0"})
        reweighted = stack.run(bedrock_request | {"scoringCriteria": {"accuracy": 1, "engagement": 9}})
        report = stack.report(reweighted.evaluation_id)
    assert rejudged.succeeded and reweighted.succeeded
    assert candidate_calls(server) == before == {m: 1 for m in CANDIDATES}
    assert server.calls["cohere.command-r-v1:0"] >= 3
    assert all(e["cached"] and not e.get("judgeCached") for e in report["models"])


def test_adding_a_model_calls_only_the_new_model(bedrock_request):
    nova = "amazon.nova-lite-v1:0"
    judge = "cohere.command-r-v1:0"
    base = bedrock_request | {"judgeModelId": judge}
    with offline() as (stack, server):
        stack.run(base)
        before = candidate_calls(server)
        grown = stack.run(base | {"models": [*bedrock_request["models"], nova]})
    assert grown.succeeded
    assert candidate_calls(server) == before
    assert server.calls[nova] == 1


def test_a_corrupt_checkpoint_is_recomputed_not_trusted(bedrock_request):
    with offline() as (stack, server):
        first = stack.run(bedrock_request)
        assert first.succeeded
        answers = [
            o["Key"]
            for o in stack.s3.list_objects_v2(Bucket=stack.stack.bucket_name, Prefix="checkpoints/answers/")["Contents"]
        ]
        for answer_key in answers:
            body = stack.get_object(answer_key)
            if CLAUDE.encode() in body:
                stack.s3.put_object(
                    Bucket=stack.stack.bucket_name, Key=answer_key, Body=body.replace(b"Harborview", b"Harborvjew")
                )
        second = stack.run(bedrock_request)
        report = stack.report(second.evaluation_id)
    assert second.succeeded
    assert server.calls[CLAUDE] == 2  # the tampered answer failed its hash and was asked for again
    assert server.calls[LLAMA] == 1
    assert entry(report, CLAUDE)["cached"] is False and "Harborview" in entry(report, CLAUDE)["output"]


def test_checkpoints_kept_on_disk_make_a_rerun_in_a_new_command_free(bedrock_request, tmp_path):
    # Given one offline run that keeps its checkpoints in a folder (as `bakeoff local run` does in OUT/)
    folder = tmp_path / ".checkpoints"
    with offline(checkpoint_dir=folder) as (stack, server):
        assert stack.run(bedrock_request).succeeded
        first = sum(server.calls.values())
    saved = [p.relative_to(folder).as_posix() for p in folder.rglob("*.json")]
    # When a new stack, with a fresh in-memory bucket like a new command's, runs the same request
    with offline(checkpoint_dir=folder) as (stack, server):
        again = stack.run(bedrock_request)
        report = stack.report(again.evaluation_id)
        second = sum(server.calls.values())
    # Then nothing is called again and the report is whole
    assert first > 0 and saved and all(k.startswith("checkpoints/") for k in saved)
    assert again.succeeded and second == 0
    assert all(e["cached"] and e["scoreStatus"] == "scored" for e in report["models"])


def test_a_tampered_checkpoint_on_disk_is_not_trusted(bedrock_request, tmp_path):
    folder = tmp_path / ".checkpoints"
    with offline(checkpoint_dir=folder) as (stack, _server):
        assert stack.run(bedrock_request).succeeded
    for path in (folder / "checkpoints" / "answers").glob("*.json"):
        path.write_text(path.read_text().replace("Harborview", "Harborvjew"))
    with offline(checkpoint_dir=folder) as (stack, server):
        assert stack.run(bedrock_request).succeeded
    assert sum(1 for _m, body in server.requests if "toolConfig" not in body) == 3
    # and the recomputed answers replaced the tampered files, so the next run is free again
    with offline(checkpoint_dir=folder) as (stack, server):
        assert stack.run(bedrock_request).succeeded
    assert sum(server.calls.values()) == 0


def test_a_judge_that_always_fails_still_gives_a_report_with_every_answer_and_cost(bedrock_request):
    # Given a judge that answers every call with a 500, more often than any Retry allows
    with offline(faults={JUDGE: Fault(fail_first=1000)}) as (stack, server):
        execution = stack.run(bedrock_request | {"controlAnswer": False})
        report = stack.report(execution.evaluation_id)
        html = stack.get_object(f"reports/{execution.evaluation_id}/report.html").decode()
    # Then the evaluation ends with its report: every answer kept, marked not judged, with its cost
    assert execution.succeeded
    assert judge_calls(server) > 0
    assert candidate_calls(server) == {m: 1 for m in CANDIDATES}
    for model_id in CANDIDATES:
        e = entry(report, model_id)
        assert e["status"] == "ok" and e["output"]
        assert e["scoreStatus"] == "not judged" and e["weightedScore"] is None and "rank" not in e
        assert e["usage"]["outputTokens"] > 0 and e["costUsd"] > 0
        assert "the judge failed: ModelServiceError" in e["unscoredReason"]
    assert report["ranking"] == [] and report["winner"] is None
    assert report["judgeFailure"]["error"] == "ModelServiceError"
    assert report["totals"]["scored"] == 0 and report["totals"]["ok"] == 3
    assert report["totals"]["candidateCostUsd"] > 0
    assert report["notices"][0].startswith("The judge failed")
    assert "The judge failed" in html


def test_a_model_that_never_answers_is_cut_off_at_the_deadline_and_the_report_has_the_others(bedrock_request):
    # Given a model that never answers, a long read timeout, and a 10 s deadline on the evaluation
    with offline(faults={LLAMA: Fault(hang=True)}, env={"MODEL_READ_TIMEOUT_SECONDS": "240"}) as (stack, server):
        started = time.perf_counter()
        execution = stack.run(bedrock_request | {"deadlineSeconds": 10, "controlAnswer": False})
        elapsed = time.perf_counter() - started
        report = stack.report(execution.evaluation_id)
    # Then the run ends soon after the deadline, the hanging model recorded as failed, the others judged
    assert execution.succeeded
    assert elapsed < 25, f"the run took {elapsed:.1f}s with a 10 s deadline"
    llama = entry(report, LLAMA)
    assert llama["status"] == "failed" and llama["error"]["error"] in ("ModelTimeoutError", "DeadlineExceededError")
    assert server.calls[LLAMA] == 1  # the retry after the timeout found the deadline passed and made no call
    assert sum(e["scoreStatus"] == "scored" for e in report["models"]) == 2
    assert report["request"]["deadlineSeconds"] == 10
