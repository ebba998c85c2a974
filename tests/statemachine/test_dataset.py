"""Dataset mode: a Distributed Map over the items of a JSONL file in S3, each item a small
evaluation of its own, aggregated into one report with confidence intervals."""

from __future__ import annotations

import json

from tests.conftest import EVENTS, offline
from tests.support.converse_fakes import ScriptedModels, answer, error, good_responder, is_judge_call, verdict

DATASET = EVENTS / "datasets" / "council-votes-12.jsonl"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-lite-v1:0"


def dataset_request(stack, body: bytes) -> dict:
    stack.s3.put_object(Bucket=stack.stack.bucket_name, Key="datasets/items.jsonl", Body=body)
    request = json.loads((EVENTS / "statemachine" / "dataset-bedrock.json").read_text())
    request["dataset"]["s3Uri"] = f"s3://{stack.stack.bucket_name}/datasets/items.jsonl"
    return request | {"controlAnswer": False}


def run_dataset(respond) -> tuple[dict, int]:
    """The 12-item dataset through the real state machine: its report, and how many candidate calls it took."""
    with offline(respond) as (stack, server):
        execution = stack.run(dataset_request(stack, DATASET.read_bytes()))
        assert execution.succeeded, execution.cause
        report = stack.report(execution.evaluation_id)
    return report, sum(1 for _m, body in server.requests if not is_judge_call(body))


def one_line(model_id, request):
    return answer(f"A one-line summary. ({model_id})", input_tokens=200, output_tokens=20)


def test_twelve_items_two_models_make_24_answers_and_one_aggregated_report():
    # Given claude is judged better than nova on every item, and nova fails on item-07
    def judge(model_id, request):
        text = request["messages"][0]["content"][0]["text"]
        spread = len(text) % 3  # varies by item, the same for both models' answers to one item
        return verdict(request, (7 if "(anthropic" in text else 4) + spread)

    def candidate(model_id, request):
        if model_id == NOVA and "Northgate" in request["messages"][0]["content"][0]["text"]:  # item-07's town
            return error("ValidationException", "Input is too long for this model.")
        return one_line(model_id, request)

    report, candidate_calls = run_dataset(ScriptedModels(candidate=candidate, judge=judge))
    assert candidate_calls == 24
    dataset = report["dataset"]
    assert dataset["items"] == 12 and report["totals"]["answers"] == 23 and report["totals"]["failedAnswers"] == 1
    stats = dataset["statistics"]["models"]
    assert stats[CLAUDE]["items"] == 12 and stats[NOVA]["items"] == 11 and stats[NOVA]["failed"] == 1
    assert 7 <= stats[CLAUDE]["meanScore"] <= 9 and 4 <= stats[NOVA]["meanScore"] <= 6
    for model_id in (CLAUDE, NOVA):
        low, high = stats[model_id]["ci95"]
        assert low <= stats[model_id]["meanScore"] <= high
    assert report["ranking"] == [CLAUDE, NOVA]
    assert dataset["statistics"]["topTwo"]["significant"] is True
    assert any("beats" in s for s in dataset["sentences"])
    nova_row = next(r for r in dataset["perItem"] if r["itemId"] == "item-07")
    assert nova_row["scores"][NOVA] == "failed"


def test_a_bad_dataset_is_refused_line_by_line_with_no_model_call():
    lines = DATASET.read_text().splitlines()
    bad = "\n".join([lines[0], '{"id": "x", "article": "too short"}', "not json", lines[0]]).encode()
    with offline(good_responder()) as (stack, server):
        execution = stack.run(dataset_request(stack, bad))
    assert execution.status == "FAILED" and execution.error == "RequestValidationError"
    fields = {e["field"] for e in execution.cause_json()["errors"]}
    assert {"dataset line 2: article", "dataset line 3", "dataset line 4: id"} <= fields
    assert sum(server.calls.values()) == 0


def test_a_missing_dataset_is_refused():
    with offline(good_responder()) as (stack, _server):
        request = dataset_request(stack, b"")
        request["dataset"]["s3Uri"] = f"s3://{stack.stack.bucket_name}/datasets/nope.jsonl"
        execution = stack.run(request)
    assert execution.error == "RequestValidationError"
    assert execution.cause_json()["errors"][0]["field"] == "dataset.s3Uri"


def test_a_judge_that_always_fails_never_blames_the_answers_nor_loses_their_cost():
    # Given candidates that answer every item and a judge that always fails (500, past every Retry)
    models = ScriptedModels(candidate=one_line, judge=error("InternalServerException", "The judge is down."))
    report, candidate_calls = run_dataset(models)
    # Then every answer is reported as an answer, not judged, with its tokens and cost
    assert candidate_calls == 24
    assert report["totals"]["answers"] == 24 and report["totals"]["failedAnswers"] == 0
    rows = report["dataset"]["rows"]
    assert all(r["status"] == "ok" and r["scoreStatus"] == "not judged" for r in rows)
    for model_id in (CLAUDE, NOVA):
        e = next(m for m in report["models"] if m["modelId"] == model_id)
        assert e["status"] == "ok" and e["scoreStatus"] == "not judged" and "rank" not in e
        assert e["usage"]["outputTokens"] == 12 * 20 and e["costUsd"] > 0
    assert report["totals"]["candidateCostUsd"] > 0 and report["ranking"] == []
