"""``repeats: k``: the request check, seeds and checkpoint keys, the estimate x k, and the spread statistics
against numpy and scipy (never against themselves)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bakeoff.answers import answer_key, candidate_request
from bakeoff.errors import BudgetExceededError, RequestValidationError
from bakeoff.estimate import estimate, judge_calls
from bakeoff.models import EvaluationRequest, ModelResult, ValidateOutput
from bakeoff.statistics import rank_agreement, repeat_spread
from bakeoff.storage import checkpoint_key
from bakeoff.trend import request_key
from tests.unit.test_request_validation import SETTINGS, request, validate
from tests.unit.test_statistics import scipy_percentile_ci

COMMAND_R = "cohere.command-r-v1:0"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"


def problems(raw) -> dict[str, str]:
    with pytest.raises(RequestValidationError) as caught:
        validate(raw)
    return {e["field"]: e["message"] for e in caught.value.details["errors"]}


# --- the request ---------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, -1, 11, 100])
def test_repeats_out_of_range_is_refused_saying_what_to_give(k):
    found = problems(request(repeats=k))
    assert "repeats" in found, found
    assert f"repeats is {k}; give 1" in found["repeats"] and "to 10" in found["repeats"]


@pytest.mark.parametrize("bad", ["3", 2.5, True, None])
def test_repeats_must_be_a_whole_number(bad):
    assert "repeats" in problems(request(repeats=bad))


def test_pass_score_without_repeats_is_refused():
    found = problems(request(passScore=7))
    assert any("set repeats to 2 or more" in message for message in found.values()), found


def test_repeats_with_batch_inference_is_refused():
    found = problems(request(repeats=3, inference="batch"))
    assert any("repeats above 1 need inference 'on-demand'" in message for message in found.values()), found


def test_repeats_at_temperature_zero_of_unseeded_models_warn():
    evaluation = validate(request(repeats=3, temperature=0.0, models=[CLAUDE, COMMAND_R]))
    warned = [w for w in evaluation.warnings if "take no seed" in w]
    assert len(warned) == 1 and CLAUDE in warned[0] and COMMAND_R not in warned[0]
    assert not [w for w in validate(request(repeats=3, temperature=0.5)).warnings if "take no seed" in w]


def test_validate_hands_the_map_every_model_once_per_repeat():
    evaluation = validate(request(repeats=2))
    out = ValidateOutput.of(evaluation, SETTINGS).dump()
    models = evaluation.request.models
    assert out["candidates"] == [{"modelId": m, "repeat": r} for r in (1, 2) for m in models]
    one = ValidateOutput.of(validate(request()), SETTINGS).dump()
    assert one["candidates"] == [{"modelId": m, "repeat": 1} for m in models]


# --- seeds, checkpoints and documents ------------------------------------------------------------


def test_repeat_one_keeps_the_checkpoint_key_and_request_of_a_run_without_repeats():
    evaluation = validate(request(models=[COMMAND_R], repeats=3))
    r = evaluation.request
    # The key's determinants before repeats existed, restated here
    before = checkpoint_key(
        "answers",
        {
            "modelId": COMMAND_R,
            "system": r.prompt,
            "article": r.article,
            "maxTokens": r.max_tokens,
            "temperature": r.temperature,
        },
        scope=None,
    )
    assert answer_key(evaluation, COMMAND_R, 1) == answer_key(evaluation, COMMAND_R) == before
    assert len({answer_key(evaluation, COMMAND_R, k) for k in (1, 2, 3)}) == 3
    assert "additionalModelRequestFields" not in candidate_request(evaluation, COMMAND_R, 1)


def test_later_repeats_carry_a_seed_only_where_the_model_documents_one():
    evaluation = validate(request(models=[COMMAND_R, CLAUDE], repeats=3))
    assert candidate_request(evaluation, COMMAND_R, 2)["additionalModelRequestFields"] == {"seed": 2}
    assert candidate_request(evaluation, COMMAND_R, 3)["additionalModelRequestFields"] == {"seed": 3}
    assert "additionalModelRequestFields" not in candidate_request(evaluation, CLAUDE, 3)


def test_a_first_repeat_result_carries_no_mark():
    assert "repeat" not in ModelResult(model_id="m", status="ok", repeat=1).dump()
    assert ModelResult(model_id="m", status="ok", repeat=2).dump()["repeat"] == 2
    # the ASL's RecordFailure copies the Map item's repeat: 1 reads as unmarked too
    assert ModelResult.model_validate({"modelId": "m", "status": "failed", "repeat": 1}).repeat is None


def test_a_request_without_repeats_keeps_its_trend_key():
    raw = request()
    assert request_key(EvaluationRequest.model_validate(raw)) == request_key(
        EvaluationRequest.model_validate(raw | {"repeats": 1})
    )
    assert request_key(EvaluationRequest.model_validate(raw)) != request_key(
        EvaluationRequest.model_validate(raw | {"repeats": 2})
    )


# --- the estimate --------------------------------------------------------------------------------


def test_the_estimate_multiplies_candidate_and_judge_calls_by_k():
    one = EvaluationRequest.model_validate(request(controlAnswer=False))
    three = EvaluationRequest.model_validate(request(controlAnswer=False, repeats=3))
    n = len(one.models)
    assert judge_calls(three) - judge_calls(one) == 2 * n
    a, b = estimate(one, ["amazon.nova-pro-v1:0"]), estimate(three, ["amazon.nova-pro-v1:0"])
    for line_1, line_3 in zip(a.lines, b.lines, strict=True):
        assert line_3.calls == 3 * line_1.calls
        assert line_3.input_tokens == 3 * line_1.input_tokens
        assert line_3.output_tokens == 3 * line_1.output_tokens
        assert line_3.cost_usd == pytest.approx(3 * line_1.cost_usd, rel=1e-6)
    assert b.total_usd == pytest.approx(3 * a.total_usd, rel=1e-4)


def test_the_budget_check_sees_the_repeats():
    single = validate(request()).estimate.total_usd
    budget = round(single * 2, 4)  # enough for one repeat, not for three
    assert validate(request(budgetUsd=budget)).estimate.total_usd <= budget
    with pytest.raises(BudgetExceededError):
        validate(request(budgetUsd=budget, repeats=3))


# --- statistics ----------------------------------------------------------------------------------


def test_repeat_spread_matches_numpy_and_scipy():
    # Given 30 items, 3 repeats each, with a per-item level (the cluster) and per-repeat noise
    rng = np.random.default_rng(7)
    level = rng.integers(3, 9, size=30).astype(float)
    scores = np.clip(level[:, None] + rng.choice([-1.0, 0.0, 0.5, 1.0], size=(30, 3)), 1, 10)
    by_item = {f"item-{i:02d}": list(row) for i, row in enumerate(scores)}
    # When
    s = repeat_spread(by_item, repeats=3, pass_score=6.0, resamples=4000)
    # Then the figures are numpy's
    means = scores.mean(axis=1)
    assert s["items"] == 30 and s["answers"] == 90
    assert s["mean"] == pytest.approx(means.mean(), abs=1e-4)
    assert s["sd"] == pytest.approx(scores.ravel().std(ddof=1), abs=1e-4)
    assert s["sdWithin"] == pytest.approx(np.sqrt(scores.var(axis=1, ddof=1).mean()), abs=1e-4)
    assert (s["min"], s["max"]) == (scores.min(), scores.max())
    assert s["meanRange"] == pytest.approx((scores.max(axis=1) - scores.min(axis=1)).mean(), abs=1e-4)
    assert s["passRate"] == pytest.approx((scores >= 6).mean(), abs=1e-4)
    assert s["passK"] == pytest.approx((scores >= 6).all(axis=1).mean(), abs=1e-4)
    assert s["passAtK"] == pytest.approx((scores >= 6).any(axis=1).mean(), abs=1e-4)
    # and the interval is scipy's percentile bootstrap over the item means (items resampled, not answers)
    low, high = scipy_percentile_ci(means)
    assert s["ci95"][0] == pytest.approx(low, abs=0.08) and s["ci95"][1] == pytest.approx(high, abs=0.08)
    answers_low, answers_high = scipy_percentile_ci(scores.ravel())
    # (resampling the 90 answers as if independent would give a narrower interval)
    assert (s["ci95"][1] - s["ci95"][0]) > (answers_high - answers_low)


def test_repeat_spread_counts_only_complete_items_for_pass_k_and_has_no_interval_for_one_item():
    s = repeat_spread({"a": [7.0, 5.0, 8.0], "b": [9.0, 9.0]}, repeats=3, pass_score=7.0)
    assert s["completeItems"] == 1 and s["passK"] == 0.0 and s["passAtK"] == 1.0
    one = repeat_spread({"only": [6.0, 8.0, 7.0]}, repeats=3)
    assert one["ci95"] is None and one["mean"] == 7.0 and one["sd"] == pytest.approx(1.0)
    assert "passK" not in one
    assert repeat_spread({}, repeats=3)["mean"] is None


def test_rank_agreement_by_hand():
    table = {
        # a beats b in every repeat: agree
        "i1": {"a": {1: 8.0, 2: 7.0}, "b": {1: 5.0, 2: 6.0}},
        # the order flips in repeat 2: neither the ranking nor the winner agrees
        "i2": {"a": {1: 8.0, 2: 5.0}, "b": {1: 5.0, 2: 6.0}},
        # three models, same winner, the others swap: the winner agrees, the ranking does not
        "i3": {"a": {1: 9.0, 2: 9.0}, "b": {1: 5.0, 2: 6.0}, "c": {1: 6.0, 2: 5.0}},
        # one common repeat only: not counted
        "i4": {"a": {1: 9.0}, "b": {2: 5.0}},
    }
    assert rank_agreement(table) == {
        "items": 3,
        "allAgree": pytest.approx(1 / 3, abs=1e-4),
        "sameWinner": pytest.approx(2 / 3, abs=1e-4),
    }
    # and ties share a rank: the same tie twice agrees
    assert rank_agreement({"t": {"a": {1: 7.0, 2: 6.0}, "b": {1: 7.0, 2: 6.0}}})["allAgree"] == 1.0


def test_sd_agrees_with_scipy_describe():
    values = [6.0, 7.5, 9.0, 7.0]
    assert repeat_spread({"x": values}, repeats=4)["sd"] == pytest.approx(
        np.sqrt(stats.describe(values).variance), abs=1e-4
    )


def test_the_local_endpoint_samples_a_repeat_with_its_seed():
    # The local endpoint reads the seed a repeat sends (its sampling plan; no model is loaded here)
    from converse_local.llama_backend import _plan

    local = "local.qwen2-5-coder-0-5b-instruct-v1:0"
    evaluation = validate(
        request(models=[local], judgeModelId=CLAUDE, repeats=3), SETTINGS.model_copy(update={"ALLOWED_MODEL_IDS": []})
    )
    assert _plan(candidate_request(evaluation, local, 2)).seed == 2
    assert _plan(candidate_request(evaluation, local, 3)).seed == 3


def test_the_quote_counts_every_repeat():
    from bakeoff.estimate import quote

    one = EvaluationRequest.model_validate(request())
    three = EvaluationRequest.model_validate(request(repeats=3))
    a, b = quote(one, ["amazon.nova-pro-v1:0"], [one.article]), quote(three, ["amazon.nova-pro-v1:0"], [three.article])
    m = len(one.models)
    assert b.lambda_["invocations"] - a.lambda_["invocations"] == 2 * m
    assert b.step_functions["standardTransitions"] - a.step_functions["standardTransitions"] == 2 * m
    assert b.on_demand_usd > 2.5 * a.on_demand_usd
