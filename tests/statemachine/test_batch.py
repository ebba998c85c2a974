"""Dataset mode with ``inference: "batch"``: the candidates answer through one Bedrock batch inference job
per model (the local batch service offline, over the scripted Converse endpoint), the judge on-demand, and
the report prices the answers at batch rates."""

from __future__ import annotations

import json
import time
from decimal import Decimal

from bakeoff.catalog import load_catalog
from converse_local import wire
from tests.conftest import EVENTS, offline
from tests.support.converse_fakes import is_judge_call, verdict

DATASET = EVENTS / "datasets" / "council-votes-12.jsonl"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-lite-v1:0"
IN_TOKENS, OUT_TOKENS = 200, 20


def dataset_lines(n: int) -> bytes:
    """``n`` distinct items made from the 12 sample articles (each edition's article differs)."""
    base = [json.loads(line) for line in DATASET.read_text().splitlines() if line.strip()]
    out = []
    for i in range(n):
        item = base[i % len(base)]
        out.append(json.dumps({"id": f"item-{i:03d}", "article": f"{item['article']} (Edition {i // len(base) + 1}.)"}))
    return ("\n".join(out) + "\n").encode()


def batch_request(stack, body: bytes, **fields) -> dict:
    stack.s3.put_object(Bucket=stack.stack.bucket_name, Key="datasets/items.jsonl", Body=body)
    request = json.loads((EVENTS / "statemachine" / "dataset-bedrock.json").read_text())
    request["dataset"]["s3Uri"] = f"s3://{stack.stack.bucket_name}/datasets/items.jsonl"
    return request | {"controlAnswer": False, "inference": "batch"} | fields


def respond(model_id: str, request: dict) -> dict:
    if is_judge_call(request):
        return verdict(request, 8 if "(anthropic" in request["messages"][0]["content"][0]["text"] else 6)
    return wire.text_response(f"A one-line summary. ({model_id})", input_tokens=IN_TOKENS, output_tokens=OUT_TOKENS)


def batch_rate_cost(model_id: str, answers: int) -> float:
    """By hand: the catalog's batch price per 1k tokens, else half the on-demand one (AWS's batch rule)."""
    info = load_catalog().get(model_id)
    half = Decimal("0.5")
    price_in = (
        Decimal(str(info.batch_input_per_1k_usd))
        if info.batch_input_per_1k_usd is not None
        else Decimal(str(info.input_per_1k_usd)) * half
    )
    price_out = (
        Decimal(str(info.batch_output_per_1k_usd))
        if info.batch_output_per_1k_usd is not None
        else Decimal(str(info.output_per_1k_usd)) * half
    )
    return float(answers * (price_in * IN_TOKENS + price_out * OUT_TOKENS) / 1000)


def test_120_items_in_batch_mode_answer_through_one_job_per_model_priced_at_batch_rates():
    with offline(respond) as (stack, server):
        execution = stack.run(batch_request(stack, dataset_lines(120)))
        assert execution.succeeded, execution.cause
        report = stack.report(execution.evaluation_id)
        html = stack.get_object(f"reports/{execution.evaluation_id}/report.html").decode()
        jobs = list(stack.batch_jobs.jobs.values())
        calls = [(m, body) for m, body in server.requests if not is_judge_call(body)]
    # Then each model answered through one batch job of 120 records, and never on-demand besides
    assert sorted(j["modelId"] for j in jobs) == sorted([CLAUDE, NOVA])
    assert all(j["status"] == "Completed" and len(j["records"]) == 120 for j in jobs)
    assert len(calls) == 240
    # And every answer was judged (on-demand) and reported
    assert report["totals"]["answers"] == 240 and report["ranking"] == [CLAUDE, NOVA]
    # And the answers are priced at batch rates: half of on-demand with the catalog as it is
    for model_id in (CLAUDE, NOVA):
        entry = next(m for m in report["models"] if m["modelId"] == model_id)
        assert entry["inference"] == "batch" and entry["batchAnswers"] == 120
        assert entry["costUsd"] == round(batch_rate_cost(model_id, 120), 8)
        assert entry["onDemandCostUsd"] > entry["costUsd"]
    claude = next(m for m in report["models"] if m["modelId"] == CLAUDE)
    assert claude["costUsd"] == 0.0045  # 120 x (200 x 0.000125 + 20 x 0.000625) / 1000
    assert any("batch rates" in notice for notice in report["notices"]) and "priced at batch rates" in html


def test_50_items_in_batch_mode_are_refused_at_validate_before_anything_is_paid():
    with offline(respond) as (stack, server):
        execution = stack.run(batch_request(stack, dataset_lines(50)))
        jobs = stack.batch_jobs.jobs
    assert execution.status == "FAILED" and execution.error == "RequestValidationError"
    (error,) = execution.cause_json()["errors"]
    assert error["field"] == "inference"
    assert "at least 100 records per model" in error["message"] and "50 item" in error["message"]
    assert 'batchFallback: "on-demand"' in error["message"]
    assert sum(server.calls.values()) == 0 and not jobs


def test_50_items_with_batch_fallback_on_demand_run_on_demand_at_on_demand_prices():
    with offline(respond) as (stack, server):
        execution = stack.run(batch_request(stack, dataset_lines(50), batchFallback="on-demand"))
        assert execution.succeeded, execution.cause
        report = stack.report(execution.evaluation_id)
        jobs = stack.batch_jobs.jobs
        calls = [m for m, body in server.requests if not is_judge_call(body)]
    assert not jobs and len(calls) == 100
    assert any("fewer than the 100 records" in w for w in report["warnings"])
    claude = next(m for m in report["models"] if m["modelId"] == CLAUDE)
    assert "inference" not in claude
    info = load_catalog().get(CLAUDE)
    assert claude["costUsd"] == round(
        50 * (info.input_per_1k_usd * IN_TOKENS + info.output_per_1k_usd * OUT_TOKENS) / 1000, 8
    )


def test_batch_for_one_article_is_refused_with_what_to_do(bedrock_request):
    with offline(respond) as (stack, server):
        execution = stack.run(bedrock_request | {"inference": "batch"})
    assert execution.error == "RequestValidationError"
    (error,) = execution.cause_json()["errors"]
    assert error["field"] == "inference" and "dataset" in error["message"]
    assert sum(server.calls.values()) == 0


def test_an_on_demand_rerun_reuses_the_batch_answers_at_what_they_cost(tmp_path):
    # Given a dataset answered in batch mode, its answers checkpointed
    with offline(respond, checkpoint_dir=tmp_path) as (stack, _server):
        first = stack.run(batch_request(stack, dataset_lines(120)))
        assert first.succeeded, first.cause
    # When the same dataset runs again on-demand
    with offline(respond, checkpoint_dir=tmp_path) as (stack, server):
        again = stack.run(batch_request(stack, dataset_lines(120), inference="on-demand"))
        assert again.succeeded, again.cause
        report = stack.report(again.evaluation_id)
        calls = [m for m, body in server.requests if not is_judge_call(body)]
    # Then no candidate is asked again, and the reused answers are still priced at batch rates
    assert calls == []
    claude = next(m for m in report["models"] if m["modelId"] == CLAUDE)
    assert claude["costUsd"] == 0.0045 and claude["batchAnswers"] == 120


def test_a_record_the_batch_job_could_not_answer_fails_that_answer_alone_and_is_not_asked_on_demand():
    # Given nova refuses one article of every twelve (item-07's town), inside its batch job
    def refusing(model_id: str, request: dict) -> dict:
        text = request["messages"][0]["content"][0]["text"]
        if model_id == NOVA and not is_judge_call(request) and "Northgate" in text:
            raise wire.ConverseError("ValidationException", "Input is too long for this model.")
        return respond(model_id, request)

    with offline(refusing) as (stack, server):
        execution = stack.run(batch_request(stack, dataset_lines(120)))
        assert execution.succeeded, execution.cause
        report = stack.report(execution.evaluation_id)
        nova_calls = [b for m, b in server.requests if m == NOVA and not is_judge_call(b)]
    # Then those 10 answers are failed with the job's error, each asked once (in the job), never on-demand
    assert len(nova_calls) == 120
    failed = [r for r in report["dataset"]["rows"] if r["status"] == "failed"]
    assert len(failed) == 10 and {r["modelId"] for r in failed} == {NOVA}
    assert {r["error"] for r in failed} == {"BatchRecordError"}
    nova = next(m for m in report["models"] if m["modelId"] == NOVA)
    assert nova["batchAnswers"] == 110 and nova["items"] == 110 and nova["failed"] == 10


def test_a_rerun_with_fewer_records_left_than_a_job_needs_asks_those_on_demand_and_prices_each_at_its_rate(tmp_path):
    # Given a batch run in which nova's job could not answer 10 records
    def refusing(model_id: str, request: dict) -> dict:
        text = request["messages"][0]["content"][0]["text"]
        if model_id == NOVA and not is_judge_call(request) and "Northgate" in text:
            raise wire.ConverseError("ThrottlingException", "Too many requests.")
        return respond(model_id, request)

    with offline(refusing, checkpoint_dir=tmp_path) as (stack, _server):
        assert stack.run(batch_request(stack, dataset_lines(120))).succeeded
        first_jobs = set(stack.batch_jobs.jobs)
    # When the same request runs again
    with offline(respond, checkpoint_dir=tmp_path) as (stack, server):
        again = stack.run(batch_request(stack, dataset_lines(120)))
        assert again.succeeded, again.cause
        report = stack.report(again.evaluation_id)
        jobs = set(stack.batch_jobs.jobs)
        calls = [m for m, b in server.requests if not is_judge_call(b)]
    # Then no new job (10 records are too few for one): those 10 are asked on-demand, nothing else is asked
    assert len(first_jobs) == 2 and jobs == first_jobs and calls == [NOVA] * 10
    # And the report prices 110 answers at batch rates and 10 at on-demand rates
    nova = next(m for m in report["models"] if m["modelId"] == NOVA)
    info = load_catalog().get(NOVA)
    on_demand = (
        Decimal(10)
        * (Decimal(str(info.input_per_1k_usd)) * IN_TOKENS + Decimal(str(info.output_per_1k_usd)) * OUT_TOKENS)
        / 1000
    )
    assert nova["batchAnswers"] == 110 and nova["items"] == 120
    assert nova["costUsd"] == round(batch_rate_cost(NOVA, 110) + float(on_demand), 8)


def test_past_its_deadline_a_batch_run_stops_its_jobs_and_reports_what_they_answered_by_then():
    # Given candidates slower than the run's deadline allows (120 records x 1 s, 4 at a time: ~30 s a job)
    def slow(model_id: str, request: dict) -> dict:
        if not is_judge_call(request):
            time.sleep(1.0)
        return respond(model_id, request)

    with offline(slow) as (stack, server):
        execution = stack.run(batch_request(stack, dataset_lines(120), deadlineSeconds=10))
        assert execution.succeeded, execution.cause
        report = stack.report(execution.evaluation_id)
        jobs = list(stack.batch_jobs.jobs.values())
        asked = [m for m, b in server.requests if not is_judge_call(b)]
    # Then both jobs were stopped, and what they had answered is reported; the rest failed with the job
    assert [j["status"] for j in jobs] == ["Stopped", "Stopped"]
    rows = report["dataset"]["rows"]
    answered = [r for r in rows if r["status"] == "ok"]
    assert 0 < len(answered) < 240 and len(asked) < 240
    assert {r["error"] for r in rows if r["status"] == "failed"} == {"BatchJobError"}
