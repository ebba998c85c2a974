"""Arena ratings: Bradley-Terry over pairwise verdicts, bootstrap CIs clustered by item, and a
length-controlled variant. Pure functions, no I/O; plain Python like ``statistics``.

The method is Chatbot Arena's and Arena-Hard's: each comparison is one "battle"; the probability that
``a`` beats ``b`` is ``sigmoid(beta_a - beta_b)``; a tie counts as half a win for each side; the
betas are fitted by maximum likelihood (Newton's method, with a weak ridge so that a model that won
every battle gets a large finite rating instead of an infinite one) and reported on the Elo scale
(``1000 + 400 * beta / ln 10``, mean 1000).

Length control follows AlpacaEval 2: the fit gets one more covariate, ``tanh(d / sd)`` where ``d``
is the first answer's word count minus the second's and ``sd`` the spread of ``d`` over all battles.
The betas of that fit are the ratings *at equal length*; its ``gamma`` says how much the judge
rewards length (> 0: the longer answer wins more often than its quality explains).

Confidence intervals resample *items* (all battles of an item together, since one article's verdicts
are not independent of each other), refit, and take the 2.5th and 97.5th percentiles. Two models are
*separable* when the bootstrap interval of their rating difference excludes zero.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field

from bakeoff.document import Document
from bakeoff.scores import ScoresDocument

ELO_SCALE = 400 / math.log(10)
ELO_BASE = 1000.0
# A weak Gaussian prior (ridge) on the betas: finite ratings under perfect separation, and a
# negligible pull (1e-3 against the dozens of battles behind each rating) otherwise.
RIDGE = 1e-3
CONFIDENCE = 0.95
_MAX_NEWTON = 50
_TOLERANCE = 1e-10

Outcome = Literal["a", "b", "tie"]


@dataclass(frozen=True)
class Battle:
    """One decided comparison of two answers to one item: ``outcome`` names the winner or a tie."""

    item: str
    a: str
    b: str
    outcome: Outcome
    # Words of a's answer minus words of b's: the length covariate.
    length_diff: float = 0.0


@dataclass(frozen=True)
class Rating:
    model_id: str
    rating: float
    ci_low: float | None
    ci_high: float | None
    rank: int


@dataclass
class ArenaRatings:
    """``ratings`` (raw) and ``length_controlled``, best first; ``separability`` in plain sentences."""

    ratings: list[Rating]
    length_controlled: list[Rating] | None
    length_coefficient: float | None
    separability: list[str]
    battles: int
    items: int
    resamples: int
    not_separable: list[tuple[str, str]] = field(default_factory=list)


# --- linear algebra for a handful of parameters ----------------------------------------------------


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting; the systems here are at most ~6 x 6."""
    n = len(vector)
    m = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-300:
            raise ArithmeticError("singular system")
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            if f:
                for c in range(col, n + 1):
                    m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1 / (1 + math.exp(-z))
    e = math.exp(z)
    return e / (1 + e)


# --- the fit -----------------------------------------------------------------------------------------

# A compressed design row: (index of a, index of b, covariate, wins of a, total weight).
_Row = tuple[int, int, float, float, float]


def _rows(
    battles: Sequence[Battle], index: dict[str, int], scale: float | None, weights: dict[str, int] | None = None
) -> list[_Row]:
    """Battles grouped by (a, b, covariate): thousands of battles become a few dozen rows."""
    grouped: dict[tuple[int, int, float], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for battle in battles:
        w = 1.0 if weights is None else weights.get(battle.item, 0)
        if not w:
            continue
        x = round(math.tanh(battle.length_diff / scale), 6) if scale else 0.0
        g = grouped[(index[battle.a], index[battle.b], x)]
        g[0] += w * {"a": 1.0, "b": 0.0, "tie": 0.5}[battle.outcome]
        g[1] += w
    return [(i, j, x, won, total) for (i, j, x), (won, total) in grouped.items()]


def negative_log_likelihood(params: Sequence[float], rows: Sequence[_Row], k: int) -> float:
    """The objective ``fit`` minimises (ridge included): exposed so a test can check the fit against
    a general-purpose optimiser on the very same function."""
    beta, gamma = params[:k], (params[k] if len(params) > k else 0.0)
    total = 0.0
    for i, j, x, won, weight in rows:
        z = beta[i] - beta[j] + gamma * x
        # log(1 + e^z) computed without overflow
        softplus = max(z, 0.0) + math.log1p(math.exp(-abs(z)))
        total += weight * softplus - won * z
    return total + RIDGE / 2 * sum(p * p for p in params)


def fit(rows: Sequence[_Row], k: int, *, covariate: bool) -> list[float]:
    """Maximum-likelihood betas (k of them, mean zero) and, with ``covariate``, gamma last."""
    n = k + (1 if covariate else 0)
    params = [0.0] * n
    for _ in range(_MAX_NEWTON):
        grad = [-RIDGE * p for p in params]
        hess = [[-(RIDGE if r == c else 0.0) for c in range(n)] for r in range(n)]
        for i, j, x, won, weight in rows:
            z = params[i] - params[j] + (params[k] * x if covariate else 0.0)
            p = _sigmoid(z)
            resid = won - weight * p
            curv = weight * p * (1 - p)
            feats = [(i, 1.0), (j, -1.0)] + ([(k, x)] if covariate else [])
            for r, fr in feats:
                grad[r] += fr * resid
                for c, fc in feats:
                    hess[r][c] -= curv * fr * fc
        step = _solve(hess, grad)
        params = [p - s for p, s in zip(params, step, strict=True)]
        if max(abs(s) for s in step) < _TOLERANCE:
            break
    mean = sum(params[:k]) / k
    return [p - mean for p in params[:k]] + params[k:]


def _elo(beta: float) -> float:
    return ELO_BASE + ELO_SCALE * beta


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    pos = q * (len(sorted_values) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _ranked(models: Sequence[str], point: list[float], samples: list[list[float]]) -> list[Rating]:
    order = sorted(range(len(models)), key=lambda m: (-point[m], models[m]))
    out = []
    for rank, m in enumerate(order, start=1):
        column = sorted(s[m] for s in samples)
        low = _elo(_percentile(column, (1 - CONFIDENCE) / 2)) if column else None
        high = _elo(_percentile(column, (1 + CONFIDENCE) / 2)) if column else None
        out.append(
            Rating(
                models[m],
                round(_elo(point[m]), 1),
                None if low is None else round(low, 1),
                None if high is None else round(high, 1),
                rank,
            )
        )
    return out


def _not_separable(models: Sequence[str], point: list[float], samples: list[list[float]]) -> list[tuple[str, str]]:
    """Neighbours in the ranking whose bootstrap rating difference has a 95% interval containing 0."""
    order = sorted(range(len(models)), key=lambda m: (-point[m], models[m]))
    pairs = []
    for hi, lo in zip(order, order[1:], strict=False):
        diffs = sorted(s[hi] - s[lo] for s in samples)
        if not diffs or _percentile(diffs, (1 - CONFIDENCE) / 2) <= 0:
            pairs.append((models[hi], models[lo]))
    return pairs


def arena_ratings(
    battles: Sequence[Battle],
    models: Sequence[str],
    *,
    resamples: int = 500,
    seed: int | str = 0,
    names: dict[str, str] | None = None,
) -> ArenaRatings | None:
    """Raw and length-controlled Bradley-Terry ratings with item-clustered bootstrap CIs.

    None when there is nothing to fit (fewer than two models or no battle). The length-controlled
    fit is left out (None) when every battle has the same length difference, since length then
    cannot be told apart from the models themselves.
    """
    models = [m for m in models if any(m in (b.a, b.b) for b in battles)]
    if len(models) < 2 or not battles:
        return None
    index = {m: i for i, m in enumerate(models)}
    k = len(models)
    items = sorted({b.item for b in battles})
    diffs = [b.length_diff for b in battles]
    mean_diff = sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - mean_diff) ** 2 for d in diffs) / len(diffs))
    with_length = sd > 0

    raw_point = fit(_rows(battles, index, None), k, covariate=False)
    lc_point = fit(_rows(battles, index, sd), k, covariate=True) if with_length else None

    rng = random.Random(f"arena/{seed}")
    raw_samples: list[list[float]] = []
    lc_samples: list[list[float]] = []
    # One item: resampling items cannot vary anything, so the CIs are left open rather than faked.
    for _ in range(resamples if len(items) > 1 else 0):
        weights: dict[str, int] = defaultdict(int)
        for _ in items:
            weights[items[rng.randrange(len(items))]] += 1
        raw_samples.append(fit(_rows(battles, index, None, weights), k, covariate=False))
        if with_length:
            lc_samples.append(fit(_rows(battles, index, sd, weights), k, covariate=True))

    label = (names or {}).get
    pairs = _not_separable(models, raw_point, raw_samples)
    sentences = [
        f"{label(a) or a} and {label(b) or b} are not separable on this data "
        f"(the 95% interval of their rating difference includes 0)."
        for a, b in pairs
    ]
    if len(items) == 1:
        sentences.append("One item: the ratings have no confidence interval; run a dataset to separate models.")
    return ArenaRatings(
        ratings=_ranked(models, raw_point, raw_samples),
        length_controlled=_ranked(models, lc_point, lc_samples) if lc_point else None,
        length_coefficient=round(lc_point[k], 4) if lc_point else None,
        separability=sentences,
        battles=len(battles),
        items=len(items),
        resamples=len(raw_samples),
        not_separable=pairs,
    )


# --- from the score step's documents to the report's section ----------------------------------------


def battles_from_pairwise(
    item: str, results: Sequence[Mapping[str, Any]], word_counts: Mapping[str, int]
) -> list[Battle]:
    """One battle per judge and pair from ``judgeHealth.pairwise.results`` (each pair already judged
    in both orders: a consistent winner wins, a flip or a tie is a tie); unusable pairs are left out."""
    battles = []
    for line in results:
        outcome = line.get("outcome")
        if outcome in (None, "unscored"):
            continue
        x, y = line["pair"]
        battles.append(
            Battle(
                item,
                x,
                y,
                "a" if outcome == x else "b" if outcome == y else "tie",
                float(word_counts.get(x, 0) - word_counts.get(y, 0)),
            )
        )
    return battles


class ArenaRating(Document):
    model_id: str
    rating: Annotated[float, Field(description="Bradley-Terry rating on the Elo scale (mean 1000).")]
    ci_low: Annotated[float | None, Field(description="2.5th percentile over item resamples.")] = None
    ci_high: Annotated[float | None, Field(description="97.5th percentile over item resamples.")] = None
    rank: int


class ArenaSection(Document):
    """``report.json``'s ``arena``: what the pairwise verdicts say, beside the pointwise ranking."""

    ratings: list[ArenaRating]
    length_controlled: Annotated[
        list[ArenaRating] | None,
        Field(
            description="Ratings at equal answer length (AlpacaEval 2's length control); None when every "
            "battle had the same length difference."
        ),
    ] = None
    length_coefficient: Annotated[
        float | None,
        Field(
            description="How much the judge rewards length, in log-odds at one spread of length "
            "difference: > 0 favours the longer answer."
        ),
    ] = None
    separability: list[str] = []
    not_separable: list[list[str]] = []
    battles: int
    items: int
    resamples: int
    position_flip_rate: Annotated[
        float | None, Field(description="Share of pairs whose verdict changed when the order was swapped.")
    ] = None


def arena_section(
    battles: Sequence[Battle],
    models: Sequence[str],
    *,
    names: Mapping[str, str] | None = None,
    flip_rate: float | None = None,
    resamples: int = 500,
    seed: int | str = 0,
) -> ArenaSection | None:
    fitted = arena_ratings(battles, models, resamples=resamples, seed=seed, names=dict(names or {}))
    if fitted is None:
        return None

    def rows(ratings: list[Rating] | None) -> list[ArenaRating] | None:
        return (
            None
            if ratings is None
            else [
                ArenaRating(model_id=r.model_id, rating=r.rating, ci_low=r.ci_low, ci_high=r.ci_high, rank=r.rank)
                for r in ratings
            ]
        )

    return ArenaSection(
        ratings=rows(fitted.ratings) or [],
        length_controlled=rows(fitted.length_controlled),
        length_coefficient=fitted.length_coefficient,
        separability=fitted.separability,
        not_separable=[list(p) for p in fitted.not_separable],
        battles=fitted.battles,
        items=fitted.items,
        resamples=fitted.resamples,
        position_flip_rate=flip_rate,
    )


def arena_from_scores(
    documents: Sequence[tuple[str, ScoresDocument]],
    models: Sequence[str],
    *,
    names: Mapping[str, str] | None = None,
    resamples: int = 500,
) -> ArenaSection | None:
    """The arena section from the score step's documents, one ``(item ID, scores document)`` per item
    (a single-article run is one item). Word counts come from each answer's text metrics."""
    battles: list[Battle] = []
    flips = pairs = 0
    for item, doc in documents:
        pairwise = doc.judge_health.pairwise if doc.judge_health else None
        if pairwise is None:
            continue
        words = {m: scores.metrics.word_count for m, scores in doc.models.items() if scores.metrics}
        battles += battles_from_pairwise(item, pairwise.results or [], words)
        flips += sum(1 for line in pairwise.results or [] if line.get("flipped"))
        pairs += pairwise.pairs
    return arena_section(
        battles, models, names=names, flip_rate=round(flips / pairs, 4) if pairs else None, resamples=resamples
    )
