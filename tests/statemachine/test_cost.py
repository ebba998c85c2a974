"""Cost before the run (preflight, refused with no model call) and after it (from Converse usage),
through the real state machine; and the metrics every call emits."""

from __future__ import annotations

import pytest

from tests.conftest import offline
from tests.support.converse_fakes import ScriptedModels, answer, good_responder, tool_use, verdict
from tests.support.printed import printed_objects

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
LLAMA = "meta.llama3-70b-instruct-v1:0"
MISTRAL = "mistral.mistral-large-2402-v1:0"
NOVA_PRO = "amazon.nova-pro-v1:0"
# $ per 1,000 tokens, as in the catalog: (input, output)
PRICES = {CLAUDE: (0.00025, 0.00125), LLAMA: (0.00265, 0.0035), MISTRAL: (0.004, 0.012), NOVA_PRO: (0.0008, 0.0032)}


def by_hand(model_id, tokens_in, tokens_out):
    price_in, price_out = PRICES[model_id]
    return tokens_in / 1000 * price_in + tokens_out / 1000 * price_out


def emf_records(out: str) -> list[dict]:
    return printed_objects(out, '{"_aws"')


def test_a_request_over_budget_is_refused_with_no_model_call(bedrock_request):
    with offline() as (stack, server):
        execution = stack.run(bedrock_request | {"budgetUsd": 0.001})
    assert execution.status == "FAILED" and execution.error == "BudgetExceededError"
    details = execution.cause_json()
    assert details["estimate"]["totalUsd"] > 0.001
    assert "lower maxTokens" in details["errors"][0]["message"]
    assert sum(server.calls.values()) == 0


def test_a_request_under_budget_runs(bedrock_request):
    with offline() as (stack, server):
        execution = stack.run(bedrock_request | {"budgetUsd": 1.0})
    assert execution.succeeded
    assert sum(server.calls.values()) > 0


def test_actual_cost_matches_hand_arithmetic(bedrock_request):
    with offline(good_responder(input_tokens=1000, output_tokens=500)) as (stack, server):
        execution = stack.run(bedrock_request | {"controlAnswer": False})
        report = stack.report(execution.evaluation_id)
    assert execution.succeeded
    for entry in report["models"]:
        assert entry["costUsd"] == pytest.approx(by_hand(entry["modelId"], 1000, 500), abs=1e-9)
        assert entry["estimate"]["inputTokens"] > 0 and entry["estimate"]["costUsd"] > 0
    judge_calls = server.calls[NOVA_PRO]
    assert judge_calls == 3
    # each scripted verdict is billed 2,000 in / 150 out
    assert report["judgeCostUsd"] == pytest.approx(judge_calls * by_hand(NOVA_PRO, 2000, 150), abs=1e-9)
    candidates = sum(by_hand(m, 1000, 500) for m in (CLAUDE, LLAMA, MISTRAL))
    assert report["totalCostUsd"] == pytest.approx(candidates + report["judgeCostUsd"], abs=1e-9)
    assert report["estimatedCostUsd"] >= report["totalCostUsd"]  # the estimate is a worst case


def test_billed_attempts_count_an_empty_answer_and_a_retried_verdict(bedrock_request):
    attempts = {"judge": 0}

    def judge(model_id, request):
        attempts["judge"] += 1
        if attempts["judge"] == 1:  # the first verdict is unusable, the retry is fine: both are billed
            return tool_use("record_verdict", {"scores": {}}, input_tokens=2000, output_tokens=150)
        return verdict(request)

    models = ScriptedModels(
        candidate=good_responder(input_tokens=1000, output_tokens=500).candidate,
        judge=judge,
        # answers nothing, but Bedrock bills the input
        by_model={LLAMA: answer("", input_tokens=1000, output_tokens=0)},
    )
    with offline(models) as (stack, server):
        execution = stack.run(bedrock_request | {"controlAnswer": False})
        report = stack.report(execution.evaluation_id)
    assert execution.succeeded
    llama = next(e for e in report["models"] if e["modelId"] == LLAMA)
    assert llama["status"] == "failed" and llama["error"]["error"] == "ModelOutputError"
    assert llama["usage"] == {"inputTokens": 1000, "outputTokens": 0}
    assert llama["costUsd"] == pytest.approx(by_hand(LLAMA, 1000, 0), abs=1e-12)
    assert server.calls[NOVA_PRO] == 3  # 2 answers judged, one of them twice
    assert report["judgeCostUsd"] == pytest.approx(3 * by_hand(NOVA_PRO, 2000, 150), abs=1e-9)


def test_every_model_call_emits_tokens_and_cost_per_model_id(bedrock_request, capfd):
    with offline(good_responder(input_tokens=1000, output_tokens=500)) as (stack, _server):
        execution = stack.run(bedrock_request | {"controlAnswer": False})
    assert execution.succeeded
    records = emf_records(capfd.readouterr().out)

    def values(metric, model_id):
        return [r[metric] for r in records if r.get("modelId") == model_id and metric in r]

    for model_id in (CLAUDE, LLAMA, MISTRAL):
        assert values("InputTokens", model_id) == [[1000.0]]
        assert values("OutputTokens", model_id) == [[500.0]]
        assert values("CostUsd", model_id) == [[pytest.approx(by_hand(model_id, 1000, 500))]]
        dims = next(r["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for r in records if r.get("modelId") == model_id)
        assert ["modelId", "role"] in dims
    assert len(values("CostUsd", NOVA_PRO)) == 3
    summed = [r["CostUsd"][0] for r in records if r.get("scope") == "all"]
    assert len(summed) == 6  # one per call: the series the alarms watch
