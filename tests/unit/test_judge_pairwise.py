"""Pairwise arithmetic: a win only when it holds in both orders, and the position flip rate."""

from __future__ import annotations

from functions.score.pairwise import Comparison, beats, ordered_pairs, summarise

MODELS = ["m1", "m2", "m3"]


def _comparisons(choose, judge: str = "j") -> list[Comparison]:
    """One comparison per ordered pair; ``choose(first, second)`` returns "first", "second", "tie" or None."""
    out = []
    for first, second in ordered_pairs(MODELS):
        winner = choose(first, second)
        out.append(
            Comparison(
                judge_model_id=judge,
                first=first,
                second=second,
                status="unscored" if winner is None else "decided",
                winner=winner,
            )
        )
    return out


def test_every_pair_in_both_orders():
    assert ordered_pairs(MODELS) == [("m1", "m2"), ("m1", "m3"), ("m2", "m1"), ("m2", "m3"), ("m3", "m1"), ("m3", "m2")]


def test_a_judge_that_always_prefers_the_first_answer_yields_only_ties():
    summary = summarise(_comparisons(lambda first, second: "first"), MODELS)
    assert summary["positionFlipRate"] == 1.0
    assert summary["pairs"] == 3
    assert summary["ties"] == 3
    assert summary["wins"] == {"m1": 0, "m2": 0, "m3": 0}
    assert summary["firstPreferredRate"] == 1.0
    assert not beats(summary, "m1", "m2") and not beats(summary, "m2", "m1")


def test_a_consistent_judge_has_no_flips_and_real_wins():
    rank = {"m1": 3, "m2": 2, "m3": 1}
    summary = summarise(_comparisons(lambda a, b: "first" if rank[a] > rank[b] else "second"), MODELS)
    assert summary["positionFlipRate"] == 0.0
    assert summary["wins"] == {"m1": 2, "m2": 1, "m3": 0}
    assert summary["ties"] == 0
    assert summary["firstPreferredRate"] == 0.5
    assert beats(summary, "m1", "m3") and not beats(summary, "m3", "m1")


def test_a_tie_in_both_orders_is_a_tie_but_not_a_flip():
    summary = summarise(_comparisons(lambda a, b: "tie"), MODELS)
    assert (summary["positionFlipRate"], summary["ties"]) == (0.0, 3)


def test_an_unusable_reply_leaves_its_pair_out_and_is_counted():
    summary = summarise(_comparisons(lambda a, b: None if {a, b} == {"m1", "m2"} else "first"), MODELS)
    assert summary["unscored"] == 1
    assert summary["pairs"] == 2
    assert summary["positionFlipRate"] == 1.0
    line = next(r for r in summary["results"] if r["pair"] == ["m1", "m2"])
    assert line["outcome"] == "unscored"


def test_with_a_panel_a_win_needs_a_majority_of_judges():
    rank = {"m1": 3, "m2": 2, "m3": 1}
    fair = _comparisons(lambda a, b: "first" if rank[a] > rank[b] else "second", judge="j1")
    biased = _comparisons(lambda a, b: "first", judge="j2")
    summary = summarise(fair + biased, MODELS)
    assert summary["pairs"] == 6
    assert summary["positionFlipRate"] == 0.5
    assert not beats(summary, "m1", "m2")  # one judge of two is not a majority
    assert not beats(summarise([], MODELS), "m1", "m2")
    assert summarise([], MODELS)["positionFlipRate"] is None
