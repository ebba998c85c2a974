"""Weighted totals and cost arithmetic, checked against hand computation."""

from __future__ import annotations

import pytest

from bakeoff.catalog import load_catalog
from bakeoff.models import CriterionScore, ResolvedCriterion, Usage
from bakeoff.scoring import weighted_score


def crit(name, weight):
    return ResolvedCriterion(name=name, weight=weight, description="d" * 10)


def test_weighted_score_is_the_weighted_mean():
    criteria = [crit("accuracy", 5), crit("engagement", 3), crit("structure", 2)]
    scores = {
        "accuracy": CriterionScore(score=8),
        "engagement": CriterionScore(score=6),
        "structure": CriterionScore(score=9),
    }
    # (8*5 + 6*3 + 9*2) / 10 = 76 / 10
    assert weighted_score(scores, criteria) == 7.6


def test_weighted_score_needs_a_score():
    with pytest.raises(ValueError):
        weighted_score({}, [crit("accuracy", 5)])


def test_scores_outside_1_to_10_are_invalid():
    for bad in (0, 11):
        with pytest.raises(ValueError):
            CriterionScore(score=bad)


def test_cost_of_a_call_matches_hand_arithmetic():
    haiku = load_catalog().get("anthropic.claude-3-haiku-20240307-v1:0")
    # 1,000 input at $0.00025/1k + 2,000 output at $0.00125/1k = 0.00025 + 0.0025
    assert haiku.cost_usd(1000, 2000) == pytest.approx(0.00275, abs=1e-12)


def test_usage_adds_up():
    assert (Usage(input_tokens=1, output_tokens=2) + Usage(input_tokens=10, output_tokens=20)).total_tokens == 33
