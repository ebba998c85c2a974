"""How far to trust the ranking: the judge's noise, the ties it implies, and its length bias. Pure."""

from __future__ import annotations

from itertools import combinations
from typing import Any

from bakeoff.metrics import pearson
from bakeoff.models import ResolvedCriterion
from functions.score.pairwise import beats
from functions.score.panel import MIN_MODELS_FOR_CORRELATION

# Weighted scores are rounded to 2 decimals; closer than this is equal.
_EQUAL = 1e-9


def default_noise(criteria: list[ResolvedCriterion]) -> float:
    """A single judge's noise when nothing measured it: one point on the heaviest criterion.

    Judges score each criterion as an integer, and the disagreement seen most when a verdict is
    asked again under a trivially different prompt (another label, another order) is one point on
    one borderline criterion. One point on criterion c moves the weighted score by
    ``weight_c / total_weight``; the heaviest criterion gives the largest such move (0.5 for the
    seed's accuracy 5 / engagement 3 / structure 2; 1.0 with a single criterion). A gap below it
    could be that one borderline call, so it is not a ranking.
    """
    total = sum(c.weight for c in criteria)
    return round(max(c.weight for c in criteria) / total, 3) if total else 1.0


def judge_noise(panel: dict[str, Any] | None, criteria: list[ResolvedCriterion]) -> tuple[float, str]:
    """(noise in weighted-score points, where it comes from): the panel's disagreement when there
    is a panel that measured any, else the rubric default."""
    if panel and panel.get("meanAbsDiff") is not None:
        return panel["meanAbsDiff"], "panel"
    return default_noise(criteria), "default"


def tie_marks(weighted: dict[str, float], noise: float, pairwise: dict[str, Any] | None = None) -> dict[str, list[str]]:
    """For every scored model, the models it is tied with (possibly none).

    Two models are tied when their weighted scores differ by less than the judge's noise, or are
    equal. In pairwise mode they are also tied unless the higher-scored one won against the other
    in both orders: either measurement saying the order is not established is enough. Ties are
    not transitive: A may tie B and B tie C while A is clearly above C.
    """
    tied: dict[str, list[str]] = {m: [] for m in weighted}
    for x, y in combinations(weighted, 2):
        gap = abs(weighted[x] - weighted[y])
        is_tie = gap <= _EQUAL or gap < noise
        if not is_tie and pairwise is not None:
            high, low = (x, y) if weighted[x] > weighted[y] else (y, x)
            is_tie = not beats(pairwise, high, low)
        if is_tie:
            tied[x].append(y)
            tied[y].append(x)
    return tied


def length_bias(word_counts: dict[str, int], weighted: dict[str, float]) -> dict[str, Any]:
    """Pearson's r between answer length (words) and weighted score over the scored models.

    Near +1 means longer answers scored higher; with few models that can be real quality, so it is
    a figure to read, not a verdict. ``None`` below three models (two points always correlate).
    """
    models = [m for m in weighted if m in word_counts]
    n = len(models)
    r = (
        pearson([word_counts[m] for m in models], [weighted[m] for m in models])
        if n >= MIN_MODELS_FOR_CORRELATION
        else None
    )
    return {"pearson": round(r, 4) if r is not None else None, "n": n}
