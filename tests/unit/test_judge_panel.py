"""A judge panel: combined verdicts and agreement figures, computed by hand."""

from __future__ import annotations

import pytest

from bakeoff.models import CriterionScore, ResolvedCriterion, Usage, Verdict
from functions.score.panel import agreement, combine

CRITERIA = [ResolvedCriterion(name="accuracy", weight=1, description="facts right")]


def _v(model: str, judge: str, score: int | None, reason: str = "r") -> Verdict:
    if score is None:
        return Verdict(
            model_id=model, judge_model_id=judge, status="unscored", reason="no verdict", usage=Usage(input_tokens=10)
        )
    return Verdict(
        model_id=model,
        judge_model_id=judge,
        status="scored",
        scores={"accuracy": CriterionScore(score=score, reason=reason)},
        evidence=[f"quote {judge}"],
        weighted_score=float(score),
        usage=Usage(input_tokens=10, output_tokens=5),
    )


def test_one_judge_is_its_own_verdict():
    v = _v("m", "j1", 7)
    assert combine([v], CRITERIA) is v


def test_a_panel_averages_scores_and_keeps_every_reason_and_the_usage():
    got = combine([_v("m", "j1", 7, "fine"), _v("m", "j2", 8, "good")], CRITERIA)
    assert got.status == "scored"
    assert got.weighted_score == 7.5
    assert got.scores["accuracy"].score == 8  # 7.5 rounded half up; the exact mean is in perCriterionMean
    assert got.scores["accuracy"].reason == "j1: fine | j2: good"
    assert got.evidence == ["quote j1", "quote j2"]
    assert got.usage == Usage(input_tokens=20, output_tokens=10)
    assert got.judge_model_id == "j1"


def test_an_unscored_judge_is_named_never_counted_as_zero():
    got = combine([_v("m", "j1", None), _v("m", "j2", 6)], CRITERIA)
    assert got.weighted_score == 6.0
    assert "unscored by j1" in got.reason
    nobody = combine([_v("m", "j1", None), _v("m", "j2", None)], CRITERIA)
    assert nobody.status == "unscored" and nobody.weighted_score is None


def test_agreement_by_hand():
    # j1 gives 8, 6, 4 and j2 gives 7, 6, 5: |diff| = 1, 0, 1; same order, so rho = tau = 1.
    by_model = {m: [_v(m, "j1", a), _v(m, "j2", b)] for m, a, b in [("m1", 8, 7), ("m2", 6, 6), ("m3", 4, 5)]}
    got = agreement(by_model, ["j1", "j2"], CRITERIA)
    assert got["meanAbsDiff"] == pytest.approx(0.667)
    assert got["spearman"] == 1.0
    assert got["kendall"] == 1.0
    assert got["perCriterionMean"] == {"m1": {"accuracy": 7.5}, "m2": {"accuracy": 6.0}, "m3": {"accuracy": 4.5}}
    assert got["perCriterionMeanAbsDiff"] == {"accuracy": 0.667}
    assert got["unscoredByJudge"] == {"j1": 0, "j2": 0}


def test_disagreeing_judges_and_too_few_models():
    by_model = {m: [_v(m, "j1", a), _v(m, "j2", b)] for m, a, b in [("m1", 9, 3), ("m2", 5, 5), ("m3", 2, 8)]}
    got = agreement(by_model, ["j1", "j2"], CRITERIA)
    assert got["meanAbsDiff"] == pytest.approx(4.0)
    assert got["spearman"] == -1.0 and got["kendall"] == -1.0
    # two models in common: a rank correlation would be ±1 whatever the judges think
    two = agreement({m: by_model[m] for m in ("m1", "m2")}, ["j1", "j2"], CRITERIA)
    assert two["spearman"] is None and two["kendall"] is None
    assert two["meanAbsDiff"] == pytest.approx(3.0)
