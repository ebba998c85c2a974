"""Text metrics against a reference answer: ROUGE-L F1 and SQuAD's token F1, checked against figures
computed by hand from the published definitions (rouge-score's README example; SQuAD v1.1's
official ``evaluate-v1.1.py``: normalise, then F1 over the shared token counts)."""

from __future__ import annotations

import pytest

from bakeoff import metrics


def test_rouge_l_against_a_reference_matches_the_rouge_score_readme_example():
    # target "The quick brown fox jumps over the lazy dog" (9 tokens), prediction 8 tokens; the LCS is
    # "the quick brown jumps the" (5): P = 5/8, R = 5/9, F = 2PR/(P+R) = 10/17 = 0.5882352941...
    got = metrics.rouge_l("The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog")
    assert got == round(10 / 17, 4)


def test_squad_normalisation_drops_case_punctuation_and_articles():
    assert metrics.squad_tokens("The Cat, sat on a mat!  An end.") == ["cat", "sat", "on", "mat", "end"]


@pytest.mark.parametrize(
    ("answer", "reference", "f1"),
    [
        # identical after normalisation
        ("The Denver Broncos", "Denver Broncos", 1.0),
        # "denver broncos win" vs "denver broncos": common 2, P 2/3, R 2/2 → 0.8
        ("Denver Broncos win", "the Denver Broncos", 0.8),
        # a repeated token counts as often as both sides have it: min(2, 1) for x + 1 for y = 2, P 2/3, R 1 → 0.8
        ("x x y", "x y", 0.8),
        # no shared token
        ("ferry", "boat", 0.0),
        # "7 to 2 vote" vs "vote was 7 to 2": common {7,to,2,vote} 4, P 4/4, R 4/5 → 8/9
        ("7 to 2 vote", "the vote was 7 to 2", round(8 / 9, 4)),
    ],
)
def test_token_f1_by_hand(answer, reference, f1):
    assert metrics.token_f1(answer, reference) == f1


def test_token_f1_of_an_empty_side_is_none_not_zero():
    assert metrics.token_f1("", "a reference") is None
    assert metrics.token_f1("the a an", "reference") is None  # only articles: nothing left


def test_text_metrics_add_the_reference_figures_only_with_a_reference():
    article = "The council voted 7 to 2 to replace the ferry. " * 3
    plain = metrics.text_metrics("The council voted 7 to 2.", article)
    guided = metrics.text_metrics("The council voted 7 to 2.", article, "The council voted 7 to 2 for a ferry.")
    assert "reference" not in plain
    assert {k: v for k, v in guided.items() if k != "reference"} == plain
    # ROUGE keeps articles: the answer's 6 tokens are all in the reference's 9, in order: P 1, R 6/9 → 0.8.
    # SQuAD drops them: council voted 7 to 2 (5) vs council voted 7 to 2 for ferry (7): 2*(5/7)/(1+5/7) = 10/12
    assert guided["reference"] == {"rougeL": 0.8, "tokenF1": round(10 / 12, 4)}
