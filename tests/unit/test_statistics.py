"""bakeoff.statistics checked against scipy and against hand computations on fixed data."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
from scipy import stats

from bakeoff.statistics import (
    bootstrap_ci,
    dataset_statistics,
    format_p,
    paired_bootstrap,
    quantile,
    wilcoxon_signed_rank,
)

CRITERIA = [
    {"name": "accuracy", "weight": 5, "description": "facts"},
    {"name": "engagement", "weight": 3, "description": "voice"},
]
# Right-skewed, so the percentile interval differs visibly (~0.09 at the low end) from mean +- 1.96 se.
SKEWED = [1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 5, 9, 10, 10, 1, 2, 1, 1, 3, 8, 2, 1, 1, 2, 6, 1, 2, 10, 1, 2]


def row(item, model, weighted=None, *, status="ok", score_status="scored", scores=None):
    return {
        "itemId": item,
        "modelId": model,
        "status": status,
        "scoreStatus": score_status,
        "weightedScore": weighted,
        "scores": scores or {},
    }


def scored(item, model, accuracy, engagement):
    weighted = round((5 * accuracy + 3 * engagement) / 8, 2)
    return row(item, model, weighted, scores={"accuracy": accuracy, "engagement": engagement})


def scipy_percentile_ci(data, *, paired=False, resamples=20000):
    if paired:
        a, b = data
        result = stats.bootstrap(
            (a, b),
            lambda x, y: np.mean(x - y),
            paired=True,
            method="percentile",
            n_resamples=resamples,
            rng=np.random.default_rng(0),
        )
    else:
        result = stats.bootstrap(
            (data,), np.mean, method="percentile", n_resamples=resamples, rng=np.random.default_rng(0)
        )
    return result.confidence_interval.low, result.confidence_interval.high


# --- Wilcoxon signed-rank ------------------------------------------------------------------------


def test_wilcoxon_without_ties_is_scipys_exact_test():
    diffs = [1.5, -0.3, 2.2, 0.7, -1.1, 3.4, 0.9, 2.8, -0.5, 1.9]
    expected = stats.wilcoxon(diffs, method="exact")
    result = wilcoxon_signed_rank(diffs)
    assert result.method == "exact"
    assert min(result.r_plus, result.r_minus) == expected.statistic == 8.0
    assert result.p == pytest.approx(expected.pvalue, rel=1e-12)  # 50 / 1024 sign patterns: 0.0488


def brute_force_p(diffs):
    """Every sign pattern of the non-zero |d| mid-ranks, counted by hand: the exact permutation p."""
    nonzero = [d for d in diffs if d != 0]
    ranks = stats.rankdata([abs(d) for d in nonzero])
    observed = sum(r for r, d in zip(ranks, nonzero, strict=True) if d > 0)
    sums = [
        sum(r for r, s in zip(ranks, signs, strict=True) if s)
        for signs in itertools.product([0, 1], repeat=len(nonzero))
    ]
    low = sum(s <= observed + 1e-9 for s in sums) / len(sums)
    high = sum(s >= observed - 1e-9 for s in sums) / len(sums)
    return min(1.0, 2 * min(low, high))


def test_wilcoxon_with_ties_and_zeros_is_the_exact_permutation_test():
    # Given integer differences like judge scores: ties everywhere and two zeros
    diffs = [2, -1, 3, 3, 0, -2, 4, 1, 1, 5, 2, 0, 3]
    result = wilcoxon_signed_rank(diffs)
    # Then zeros are dropped and p is the exact conditional one: by hand, and scipy's enumeration
    assert (result.n, result.zeros, result.r_plus, result.r_minus) == (11, 2, 59.0, 7.0)
    assert result.p == pytest.approx(brute_force_p(diffs), rel=1e-12)
    scipy_p = stats.wilcoxon(diffs, method=stats.PermutationMethod()).pvalue  # exhaustive for n <= 13
    assert result.p == pytest.approx(scipy_p, rel=1e-12)
    assert result.p == pytest.approx(0.01953125)


def test_wilcoxon_over_50_differences_is_scipys_tie_corrected_normal_approximation():
    rng = random.Random(3)
    diffs = [rng.randint(-3, 5) for _ in range(80)]
    expected = stats.wilcoxon(diffs, method="asymptotic", zero_method="wilcox", correction=False)
    result = wilcoxon_signed_rank(diffs)
    assert result.method == "normal" and result.zeros == diffs.count(0)
    assert min(result.r_plus, result.r_minus) == expected.statistic
    assert result.p == pytest.approx(expected.pvalue, rel=1e-9)


def test_wilcoxon_treats_float_noise_as_the_tie_it_is():
    # 7.3 - 7.1 and 7.5 - 7.3 differ in the 16th digit; as scores they are the same 0.2
    diffs = [7.3 - 7.1, 7.5 - 7.3, 0.5, -0.1]
    assert wilcoxon_signed_rank(diffs).r_plus == wilcoxon_signed_rank([0.2, 0.2, 0.5, -0.1]).r_plus == 9.0


@pytest.mark.parametrize("diffs", [[], [0, 0, 0], [0.0]])
def test_wilcoxon_with_no_nonzero_difference_has_no_p(diffs):
    result = wilcoxon_signed_rank(diffs)
    assert result.p is None and result.n == 0 and result.method == "none"


def test_wilcoxon_with_one_difference_cannot_be_significant():
    assert wilcoxon_signed_rank([2.0]).p == 1.0


# --- bootstrap -----------------------------------------------------------------------------------


def test_quantile_interpolates_as_numpy_does():
    values = sorted([3.0, 1.0, 4.0, 1.5, 9.0, 2.6])
    for q in (0.0, 0.025, 0.3, 0.5, 0.975, 1.0):
        assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)))


def test_bootstrap_ci_matches_scipys_percentile_interval_on_skewed_data():
    low, high = bootstrap_ci(SKEWED, resamples=20000)
    expected_low, expected_high = scipy_percentile_ci(SKEWED)
    assert (low, high) == (pytest.approx(expected_low, abs=0.04), pytest.approx(expected_high, abs=0.04))
    # and it is the percentile interval, not the normal one (2.21, 4.39)
    mean = sum(SKEWED) / len(SKEWED)
    se = float(np.std(SKEWED, ddof=1)) / math.sqrt(len(SKEWED))
    assert low - (mean - 1.96 * se) > 0.05


def test_bootstrap_ci_of_many_repeated_scores_matches_scipy():
    # 400 integer scores, 10 distinct: resampled as counts (one binomial per distinct value)
    scores = [int(x) for x in np.random.default_rng(5).integers(1, 11, 400)]
    low, high = bootstrap_ci(scores, resamples=20000)
    expected_low, expected_high = scipy_percentile_ci(scores)
    assert (low, high) == (pytest.approx(expected_low, abs=0.02), pytest.approx(expected_high, abs=0.02))


def test_bootstrap_ci_matches_the_ideal_bootstrap_counted_by_hand():
    # Given six values, whose 6^6 equally likely resamples can all be listed
    values = [2.0, 3.0, 3.0, 5.0, 8.0, 9.0]
    means = sorted(sum(s) / 6 for s in itertools.product(values, repeat=6))
    ideal = (quantile(means, 0.025), quantile(means, 0.975))  # 3.1667, 7.1667
    # Then 20,000 Monte Carlo resamples land within their sampling error of it
    low, high = bootstrap_ci(values, resamples=20000)
    assert (low, high) == (pytest.approx(ideal[0], abs=0.1), pytest.approx(ideal[1], abs=0.1))


def test_bootstrap_is_reproducible_and_depends_on_its_seed():
    assert bootstrap_ci(SKEWED, seed=1) == bootstrap_ci(SKEWED, seed=1)
    assert bootstrap_ci(SKEWED, seed=1) != bootstrap_ci(SKEWED, seed=2)


@pytest.mark.parametrize("values", [[], [7.0], [7.0, 7.0, 7.0]])
def test_bootstrap_ci_is_none_without_two_varying_values(values):
    assert bootstrap_ci(values) is None


def test_paired_bootstrap_matches_scipys_paired_percentile_interval():
    rng = np.random.default_rng(11)
    a = rng.integers(3, 11, 60).astype(float)
    b = np.clip(a - rng.integers(-1, 3, 60), 1, 10)  # A about 0.5 better
    result = paired_bootstrap(list(a - b), resamples=20000)
    expected_low, expected_high = scipy_percentile_ci((a, b), paired=True)
    assert result.mean_diff == pytest.approx(float(np.mean(a - b)))
    assert result.ci == (pytest.approx(expected_low, abs=0.03), pytest.approx(expected_high, abs=0.03))
    assert result.ci[0] > 0 and result.p < 0.05


def test_paired_bootstrap_p_when_every_difference_favours_a_is_its_floor():
    # Every resample of all-positive differences has a positive mean: 0 of 2000 at or below zero,
    # so p = 2 x (0 + 1) / 2001 by hand
    result = paired_bootstrap([0.5, 1.0, 2.0, 0.25, 1.5], resamples=2000)
    assert result.p == pytest.approx(2 / 2001)


def test_paired_bootstrap_of_balanced_differences_is_not_significant():
    result = paired_bootstrap([1.0, -1.0, 2.0, -2.0, 0.5, -0.5] * 5, resamples=2000)
    assert result.mean_diff == 0.0 and result.p > 0.8 and result.ci[0] < 0 < result.ci[1]


def test_paired_bootstrap_of_identical_pairs_has_no_interval_and_no_p():
    result = paired_bootstrap([0.0] * 12)
    assert (result.mean_diff, result.ci, result.p) == (0.0, None, None)


# --- the dataset summary -------------------------------------------------------------------------


@pytest.fixture
def dataset():
    """Six items, three models. B fails item 5 and is unscored on item 6; C is never judged on 4."""
    a_scores = [(9, 8), (8, 8), (9, 9), (7, 6), (8, 9), (9, 7)]
    b_scores = [(6, 7), (7, 5), (8, 8), (5, 6)]
    c_scores = [(5, 5), (6, 5), (4, 6), (5, 5), (6, 6)]
    rows = [scored(f"item-{i + 1}", "A", *s) for i, s in enumerate(a_scores)]
    rows += [scored(f"item-{i + 1}", "B", *s) for i, s in enumerate(b_scores)]
    rows += [
        row("item-5", "B", status="failed", score_status="not judged"),
        row("item-6", "B", score_status="unscored"),
    ]
    rows += [scored(f"item-{i}", "C", *s) for i, s in zip((1, 2, 3, 5, 6), c_scores, strict=True)]
    rows += [row("item-4", "C", score_status="not judged")]
    return rows


def test_dataset_statistics_counts_every_row_and_means_only_the_scored(dataset):
    result = dataset_statistics(dataset, CRITERIA)
    models = result["models"]
    assert list(models) == ["A", "B", "C"]  # best mean first
    assert {m: (s["items"], s["failed"], s["unscored"]) for m, s in models.items()} == {
        "A": (6, 0, 0),
        "B": (4, 1, 1),
        "C": (5, 0, 1),
    }
    # B's weighted scores: (5*6+3*7)/8 = 6.38, 6.25, 8.0, 5.38 (rounded as the judge step rounds them)
    assert models["B"]["meanScore"] == pytest.approx((6.38 + 6.25 + 8.0 + 5.38) / 4, abs=1e-4)
    assert models["B"]["criteria"] == {"accuracy": 6.5, "engagement": 6.5}
    low, high = models["B"]["ci95"]
    assert low < models["B"]["meanScore"] < high


def test_win_rates_pair_only_items_both_models_scored(dataset):
    result = dataset_statistics(dataset, CRITERIA)
    by_pair = {(w["a"], w["b"]): w for w in result["winRates"]}
    assert set(by_pair) == {("A", "B"), ("A", "C"), ("B", "C")}
    # A vs B on items 1-4: A wins all; B vs C on items 1-3: B wins 1 and 3, item 2 is 6.25 vs 5.62
    assert by_pair["A", "B"] | {} == {
        "a": "A",
        "b": "B",
        "winsA": 4,
        "winsB": 0,
        "ties": 0,
        "items": 4,
        "winRateA": 1.0,
    }
    assert (by_pair["B", "C"]["items"], by_pair["B", "C"]["winsA"]) == (3, 3)
    assert by_pair["A", "C"]["items"] == 5


def test_win_rate_counts_a_tie_as_half():
    rows = [row(str(i), "A", w) for i, w in enumerate([7.0, 6.0, 5.0, 8.0])]
    rows += [row(str(i), "B", w) for i, w in enumerate([7.0, 7.0, 4.0, 8.0])]
    (rate,) = dataset_statistics(rows, [])["winRates"]
    assert (rate["winsA"], rate["winsB"], rate["ties"], rate["winRateA"]) == (1, 1, 2, 0.5)


def test_top_two_is_a_paired_comparison_that_agrees_with_scipy(dataset):
    result = dataset_statistics(dataset, CRITERIA)
    top = result["topTwo"]
    a = {r["itemId"]: r for r in dataset if r["modelId"] == "A"}
    b = {r["itemId"]: r for r in dataset if r["modelId"] == "B" and r["weightedScore"] is not None}
    common = sorted(b)
    diffs = [a[i]["weightedScore"] - b[i]["weightedScore"] for i in common]
    assert (top["a"], top["b"], top["items"]) == ("A", "B", 4)
    assert top["meanDiff"] == pytest.approx(sum(diffs) / 4, abs=1e-4)
    assert top["pWilcoxon"] == pytest.approx(stats.wilcoxon(diffs).pvalue, rel=1e-3)  # 2 / 16 = 0.125
    assert top["significant"] is False  # four items cannot reach p < 0.05 (the smallest p is 0.125)
    accuracy = [a[i]["scores"]["accuracy"] - b[i]["scores"]["accuracy"] for i in common]
    assert top["perCriterion"]["accuracy"]["meanDiff"] == pytest.approx(sum(accuracy) / 4)
    assert top["perCriterion"]["accuracy"]["p"] == pytest.approx(stats.wilcoxon(accuracy).pvalue, rel=1e-3)


def test_sentences_say_who_wins_with_p_and_items_and_what_was_left_out():
    # Given 40 items where A is better on accuracy and the same on engagement
    rng = random.Random(7)
    rows = []
    for i in range(40):
        engagement = rng.randint(4, 8)
        rows.append(scored(f"i{i}", "A", rng.randint(7, 10), engagement))
        rows.append(
            scored(f"i{i}", "B", rng.randint(4, 7), engagement)
            if i != 0
            else row("i0", "B", status="failed", score_status="not judged")
        )
    result = dataset_statistics(rows, CRITERIA, names={"A": "Claude", "B": "Llama"})
    overall, accuracy, engagement, left_out = result["sentences"]
    assert overall.startswith("Claude beats Llama overall by ") and "p < 0.001, 39 items)" in overall
    assert accuracy == "Claude beats Llama on accuracy (p < 0.001, 39 items)"
    assert engagement == "no significant difference between Claude and Llama on engagement (all 39 items tied)"
    assert left_out == (
        "1 item left out of the Claude-Llama comparison because one of them has no score there (Llama: 1 failed)"
    )
    top = result["topTwo"]
    assert top["significant"] and top["perCriterion"]["engagement"] == {
        "meanDiff": 0.0,
        "p": None,
        "significant": False,
    }
    assert top["ci95"][0] > 0 and top["pBootstrap"] < 0.05


def test_the_loser_is_named_second_when_the_paired_test_favours_the_lower_mean():
    # B's mean is lower over all its items, but on the items both scored B is ahead every time
    rows = [row(str(i), "A", 5.0 + i % 3) for i in range(12)]
    rows += [row(str(i), "B", 6.5 + i % 3) for i in range(8)] + [row(str(i), "B", 1.0) for i in range(20, 30)]
    rows += [row(str(i), "A", status="failed", score_status="not judged") for i in range(20, 30)]
    result = dataset_statistics(rows, [])
    assert (result["topTwo"]["a"], result["topTwo"]["b"]) == ("A", "B")
    assert result["topTwo"]["meanDiff"] == -1.5
    assert result["sentences"][0].startswith("B beats A overall by 1.50 points")


@pytest.mark.parametrize(
    "p, text",
    [
        (0.0004, "p < 0.001"),
        (0.01, "p = 0.01"),
        (0.4213, "p = 0.42"),
        (0.0496, "p = 0.0496"),
        (0.6, "p = 0.60"),
        (1.0, "p = 1.00"),
    ],
)
def test_format_p(p, text):
    assert format_p(p) == text


# --- degenerate inputs ---------------------------------------------------------------------------


def test_no_rows_gives_an_empty_summary():
    assert dataset_statistics([], CRITERIA) == {"models": {}, "winRates": [], "topTwo": None, "sentences": ["no items"]}


def test_only_failures_are_counted_and_give_no_figures():
    rows = [row(str(i), m, status="failed", score_status="not judged") for i in range(3) for m in ("A", "B")]
    result = dataset_statistics(rows, CRITERIA)
    assert result["models"]["A"] == {
        "meanScore": None,
        "ci95": None,
        "items": 0,
        "failed": 3,
        "unscored": 0,
        "criteria": {"accuracy": None, "engagement": None},
    }
    assert result["topTwo"] is None
    assert result["winRates"][0] | {} == {
        "a": "A",
        "b": "B",
        "winsA": 0,
        "winsB": 0,
        "ties": 0,
        "items": 0,
        "winRateA": None,
    }
    assert result["sentences"] == ["no model was scored on any item: nothing to compare"]


def test_one_scored_model_has_no_comparison():
    rows = [scored("1", "A", 8, 7), scored("2", "A", 6, 7), row("1", "B", score_status="unscored")]
    result = dataset_statistics(rows, CRITERIA)
    assert result["topTwo"] is None and result["sentences"] == ["only A was scored: no comparison"]
    assert result["models"]["B"]["unscored"] == 1


def test_one_item_gives_means_but_no_intervals():
    rows = [scored("1", "A", 8, 7), scored("1", "B", 6, 5)]
    result = dataset_statistics(rows, CRITERIA)
    assert result["models"]["A"]["meanScore"] == 7.62 and result["models"]["A"]["ci95"] is None
    top = result["topTwo"]
    assert (top["items"], top["ci95"], top["pBootstrap"], top["pWilcoxon"], top["significant"]) == (
        1,
        None,
        None,
        1.0,
        False,
    )
    assert result["sentences"][0] == "no significant difference between A and B overall (p = 1.00, 1 item)"


def test_all_ties_and_zero_variance_give_none_not_a_division_by_zero():
    rows = [scored(str(i), m, 7, 7) for i in range(10) for m in ("A", "B")]
    result = dataset_statistics(rows, CRITERIA)
    assert result["models"]["A"]["meanScore"] == 7.0 and result["models"]["A"]["ci95"] is None
    top = result["topTwo"]
    assert (top["meanDiff"], top["ci95"], top["pBootstrap"], top["pWilcoxon"], top["significant"]) == (
        0.0,
        None,
        None,
        None,
        False,
    )
    assert result["winRates"][0]["ties"] == 10 and result["winRates"][0]["winRateA"] == 0.5
    assert result["sentences"][0] == "no significant difference between A and B overall (all 10 items tied)"


def test_models_never_scored_on_the_same_item_are_not_compared():
    rows = [
        scored("1", "A", 8, 7),
        scored("2", "A", 9, 7),
        scored("3", "B", 6, 5),
        row("3", "A", status="failed"),
        row("1", "B", status="failed"),
        row("2", "B", status="failed"),
    ]
    result = dataset_statistics(rows, CRITERIA)
    assert result["topTwo"]["items"] == 0 and result["topTwo"]["meanDiff"] is None
    assert result["sentences"][0] == "A and B were never both scored on the same item: no comparison overall"
    assert result["sentences"][-1].startswith("3 items left out")


def test_a_scored_row_without_a_number_counts_as_unscored_and_dict_scores_are_read():
    rows = [
        row("1", "A", None),
        row("2", "A", float("nan")),
        row("3", "A", 6.0, scores={"accuracy": {"score": 6, "reason": "ok"}, "engagement": {"score": 5}}),
    ]
    model = dataset_statistics(rows, CRITERIA)["models"]["A"]
    assert (model["items"], model["unscored"], model["criteria"]) == (1, 2, {"accuracy": 6.0, "engagement": 5.0})


def test_two_rows_for_one_item_and_model_are_an_error():
    with pytest.raises(ValueError, match="two rows for item '1' and model 'A'"):
        dataset_statistics([row("1", "A", 5.0), row("1", "A", 6.0)], [])


def test_results_are_reproducible_and_one_models_interval_ignores_the_others(dataset):
    first = dataset_statistics(dataset, CRITERIA, seed=3)
    assert dataset_statistics(dataset, CRITERIA, seed=3) == first
    without_c = dataset_statistics([r for r in dataset if r["modelId"] != "C"], CRITERIA, seed=3)
    assert without_c["models"]["A"]["ci95"] == first["models"]["A"]["ci95"]
    assert without_c["topTwo"] == first["topTwo"]
