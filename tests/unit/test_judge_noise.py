"""Noise, ties and length bias: how far the ranking can be trusted."""

from __future__ import annotations

from bakeoff.models import ResolvedCriterion
from functions.score.health import default_noise, judge_noise, length_bias, tie_marks
from functions.score.pairwise import Comparison, ordered_pairs, summarise


def _criteria(*weights: int) -> list[ResolvedCriterion]:
    return [ResolvedCriterion(name=f"c{i}", weight=w, description="something") for i, w in enumerate(weights)]


def test_default_noise_is_one_point_on_the_heaviest_criterion():
    assert default_noise(_criteria(5, 3, 2)) == 0.5
    assert default_noise(_criteria(4)) == 1.0
    assert default_noise(_criteria(1, 1, 1, 1)) == 0.25


def test_the_panel_disagreement_is_the_noise_when_measured():
    assert judge_noise({"meanAbsDiff": 0.8}, _criteria(5, 3, 2)) == (0.8, "panel")
    assert judge_noise({"meanAbsDiff": None}, _criteria(5, 3, 2)) == (0.5, "default")
    assert judge_noise(None, _criteria(5, 3, 2)) == (0.5, "default")


def test_gaps_below_the_noise_are_ties_and_ties_are_not_transitive():
    ties = tie_marks({"a": 8.0, "b": 7.6, "c": 7.2, "d": 5.0}, noise=0.5)
    assert ties == {"a": ["b"], "b": ["a", "c"], "c": ["b"], "d": []}


def test_a_gap_equal_to_the_noise_is_not_a_tie_but_equal_scores_always_are():
    assert tie_marks({"a": 8.0, "b": 7.5}, noise=0.5) == {"a": [], "b": []}
    assert tie_marks({"a": 7.0, "b": 7.0}, noise=0.0) == {"a": ["b"], "b": ["a"]}


def test_in_pairwise_mode_a_pair_is_tied_unless_the_higher_one_won_both_orders():
    models = ["a", "b"]

    def judged(choose) -> dict:
        return summarise(
            [
                Comparison(judge_model_id="j", first=x, second=y, status="decided", winner=choose(x))
                for x, y in ordered_pairs(models)
            ],
            models,
        )

    always_first = judged(lambda first: "first")
    assert tie_marks({"a": 9.0, "b": 3.0}, noise=0.5, pairwise=always_first) == {"a": ["b"], "b": ["a"]}
    a_wins = judged(lambda first: "first" if first == "a" else "second")
    assert tie_marks({"a": 9.0, "b": 3.0}, noise=0.5, pairwise=a_wins) == {"a": [], "b": []}


def test_length_bias_is_pearson_of_words_against_score():
    # 100, 200, 300 words score 5, 6, 7: perfectly longer-is-better
    words = {"a": 100, "b": 200, "c": 300}
    assert length_bias(words, {"a": 5.0, "b": 6.0, "c": 7.0}) == {"pearson": 1.0, "n": 3}
    assert length_bias(words, {"a": 7.0, "b": 6.0, "c": 7.0})["pearson"] == 0.0
    # unscored models are left out; two points say nothing
    assert length_bias(words, {"a": 5.0, "b": 6.0}) == {"pearson": None, "n": 2}
