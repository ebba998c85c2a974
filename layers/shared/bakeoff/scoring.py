"""Pure scoring arithmetic: weighted totals and ranking. No I/O."""

from __future__ import annotations

from collections.abc import Mapping

from bakeoff.models import CriterionScore, ResolvedCriterion


def weighted_score(scores: Mapping[str, CriterionScore], criteria: list[ResolvedCriterion]) -> float:
    """Weighted mean of the criterion scores, on the same 1-10 scale; rounded to 2 decimals."""
    total_weight = sum(c.weight for c in criteria if c.name in scores)
    if total_weight == 0:
        raise ValueError("no scored criterion to weigh")
    return round(sum(scores[c.name].score * c.weight for c in criteria if c.name in scores) / total_weight, 2)
