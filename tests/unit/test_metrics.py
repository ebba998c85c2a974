"""Deterministic text metrics and statistics, on fixed text with values computed by hand."""

from __future__ import annotations

import math
import random

import pytest

from bakeoff import metrics

ARTICLE = (
    "Mayor Lucinda Ortega said the new ferry will carry 180 passengers and 24 cars. "
    "The contract is worth 31.4 million dollars. About 2,300 people live on Gull Island, "
    "and seven council members voted for the plan."
)


# --- words, compression ---------------------------------------------------------------------


def test_word_count_counts_words_with_inner_apostrophes_and_hyphens_once():
    assert metrics.word_count("Gull Island's low-emission ferry: 2,300 seats!") == 6
    assert metrics.word_count("") == 0


def test_compression_ratio_is_article_words_per_answer_word():
    # ARTICLE has 36 words (counted by hand); the answer 9.
    assert metrics.word_count(ARTICLE) == 36
    assert metrics.compression_ratio("The ferry carries 180 passengers and 24 cars now.", ARTICLE) == 4.0
    assert metrics.compression_ratio("", ARTICLE) is None


# --- numbers ----------------------------------------------------------------------------------


def test_numbers_are_canonical():
    assert metrics.numbers("2,300 people, 31.40 million, 2029. And 007.") == ["2300", "31.4", "2029", "7"]


def test_unsupported_numbers_lists_numbers_the_article_lacks_once_in_order():
    answer = "The ferry carries 200 passengers and 24 cars; 2300 islanders; seven, no, 7 votes; 200 again; 9."
    # 24, 2300 (= "2,300") and 7 (= "seven") are in the article; 200 and 9 are not.
    assert metrics.unsupported_numbers(answer, ARTICLE) == ["200", "9"]


# --- names ------------------------------------------------------------------------------------


def test_proper_names_skips_sentence_openers_and_keeps_multiword_names():
    text = (
        "Mayor Ortega met Derek Smith. The Harborview Port Authority paid. Welcome to the show! "
        "Gull Island's ferry is old. Ortega smiled. Alex laughed."
    )
    # "The"/"Welcome" open sentences; "Ortega" at a sentence start counts because it also appears
    # mid-sentence; a lone "Alex" at a sentence start cannot be told from an ordinary word.
    assert metrics.proper_names(text) == [
        "Mayor Ortega",
        "Derek Smith",
        "Harborview Port Authority",
        "Gull Island",
        "Ortega",
    ]


def test_proper_names_ignores_all_caps_labels_and_single_capitals():
    assert metrics.proper_names("HOST 1: I think so.\nHOST 2: A fine point, said Ortega.") == ["Ortega"]


def test_unsupported_names_are_names_with_a_word_not_in_the_article():
    answer = "Mayor Ortega thanked Derek Smith and the people of Gull Island."
    assert metrics.unsupported_names(answer, ARTICLE) == ["Derek Smith"]


# --- ROUGE-L ----------------------------------------------------------------------------------


def test_rouge_l_by_hand():
    # tokens: the cat sat on the mat / the cat lay on a mat: LCS "the cat on mat" = 4 of 6 and 6.
    # P = R = 4/6, so F1 = 2PR/(P+R) = 4/6
    assert metrics.rouge_l("The cat lay on a mat.", "the cat sat on the mat") == 0.6667
    assert metrics.rouge_l("dog", "the cat") == 0.0
    assert metrics.rouge_l("", "the cat") is None


def test_rouge_l_of_a_copy_is_one():
    assert metrics.rouge_l(ARTICLE, ARTICLE) == 1.0


def _lcs_table(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def test_bit_parallel_lcs_matches_the_textbook_table():
    rng = random.Random(4)
    for _ in range(500):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 30))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 30))]
        assert metrics.lcs_length(a, b) == _lcs_table(a, b), (a, b)


def test_text_metrics_has_every_field():
    got = metrics.text_metrics("Mayor Ortega says 200 people ride.", ARTICLE)
    assert got == {
        "wordCount": 6,
        "compressionRatio": 6.0,
        "unsupportedNumbers": ["200"],
        "unsupportedNames": [],
        "rougeL": got["rougeL"],
    }
    assert 0 < got["rougeL"] < 1


# --- statistics -------------------------------------------------------------------------------


def test_pearson_by_hand():
    # mx=2, my=13/3; Sxy=5, Sxx=2, Syy=114/9 → r = 5 / sqrt(228/9)
    assert metrics.pearson([1, 2, 3], [2, 4, 7]) == pytest.approx(5 / math.sqrt(228 / 9))
    assert metrics.pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_rank_correlations_by_hand():
    # one swapped pair of three: rho = 1 - 6*2/(3*8) = 0.5; tau = (2 - 1)/3
    assert metrics.spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert metrics.kendall([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)


def test_kendall_is_tau_b_with_ties():
    # pairs: (0,1) concordant, (0,2) concordant, (1,2) tied in x only → 2 / sqrt(3 * 2)
    assert metrics.kendall([1, 2, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))


def test_ranks_share_ties():
    assert metrics.ranks([5, 7, 7, 1]) == [2.0, 3.5, 3.5, 1.0]


def test_degenerate_statistics_are_none_not_zero():
    assert metrics.pearson([1, 1, 1], [1, 2, 3]) is None
    assert metrics.spearman([4], [5]) is None
    assert metrics.kendall([2, 2], [1, 3]) is None
    assert metrics.mean([]) is None
    assert metrics.mean_abs_diff([], []) is None
    assert metrics.mean_abs_diff([8, 6, 4], [7, 6, 5]) == pytest.approx(2 / 3)


def test_paired_statistics_refuse_unequal_lengths():
    with pytest.raises(ValueError, match="equal lengths"):
        metrics.pearson([1, 2], [1, 2, 3])
