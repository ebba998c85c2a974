"""A judge panel: each model's verdicts from 2-3 judges combined, and how far the judges agree.

Pure logic over ``Verdict`` records. The combined verdict averages what the judges that scored
gave; a judge that could not score is named in the reason, never counted as 0. Agreement is
measured on the weighted scores, model by model, between every pair of judges.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

from bakeoff.metrics import kendall, mean, spearman
from bakeoff.models import CriterionScore, ResolvedCriterion, Verdict

# Rank correlation over two models is always +1 or -1: it says nothing, so it is not reported.
MIN_MODELS_FOR_CORRELATION = 3


def _half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def combine(verdicts: list[Verdict], criteria: list[ResolvedCriterion]) -> Verdict:
    """One model's verdicts (one per judge, primary first) as one verdict.

    With one judge it is that judge's verdict. With a panel, criterion scores are the judges' mean
    rounded half up (``CriterionScore.score`` is an integer 1-10; the exact means are in
    ``judgeHealth.panel.perCriterionMean``), and the weighted score is the mean of the judges'
    weighted scores, not recomputed from the rounded criterion scores, so a half-point
    disagreement still moves the total.
    """
    primary = verdicts[0]
    if len(verdicts) == 1:
        return primary
    usage = sum((v.usage for v in verdicts[1:]), primary.usage)
    scored = [v for v in verdicts if v.status == "scored"]
    missing = [v for v in verdicts if v.status != "scored"]
    base = {
        "model_id": primary.model_id,
        "judge_model_id": primary.judge_model_id,
        "usage": usage,
        "attempts": sum(v.attempts for v in verdicts),
        "cached": all(v.cached for v in verdicts),
    }
    if not scored:
        return Verdict(
            **base,
            status="unscored",
            reason="no judge of the panel could score: "
            + "; ".join(f"{v.judge_model_id}: {v.reason}" for v in verdicts),
            raw_reply=primary.raw_reply,
        )
    scores = {}
    for c in criteria:
        values = [v.scores[c.name].score for v in scored if c.name in v.scores]
        if values:
            scores[c.name] = CriterionScore(
                score=_half_up(sum(values) / len(values)),
                reason=" | ".join(f"{v.judge_model_id}: {v.scores[c.name].reason}" for v in scored),
            )
    evidence = list(dict.fromkeys(e for v in scored for e in v.evidence))[:5]
    weighted = round(sum(v.weighted_score for v in scored) / len(scored), 2)  # type: ignore[misc]
    reason = None
    if missing:
        reason = f"scored by {len(scored)} of {len(verdicts)} judges; unscored by " + "; ".join(
            f"{v.judge_model_id} ({v.reason})" for v in missing
        )
    return Verdict(**base, status="scored", scores=scores, evidence=evidence, weighted_score=weighted, reason=reason)


def agreement(
    by_model: dict[str, list[Verdict]], judges: list[str], criteria: list[ResolvedCriterion]
) -> dict[str, Any]:
    """``judgeHealth.panel``: mean absolute difference of the judges' weighted scores over every
    judge pair and every model both scored; Spearman and Kendall over models (mean over judge
    pairs, with at least three models in common); and each criterion's mean per model."""
    weighted: dict[str, dict[str, float]] = {j: {} for j in judges}
    per_criterion: dict[str, dict[str, list[int]]] = {}
    for model_id, verdicts in by_model.items():
        for v in verdicts:
            if v.status != "scored":
                continue
            weighted[v.judge_model_id][model_id] = v.weighted_score  # type: ignore[assignment]
            for name, s in v.scores.items():
                per_criterion.setdefault(model_id, {}).setdefault(name, []).append(s.score)
    diffs: list[float] = []
    criterion_diffs: dict[str, list[float]] = {c.name: [] for c in criteria}
    rhos: list[float] = []
    taus: list[float] = []
    for a, b in combinations(judges, 2):
        common = [m for m in by_model if m in weighted[a] and m in weighted[b]]
        diffs.extend(abs(weighted[a][m] - weighted[b][m]) for m in common)
        for m in common:
            va, vb = _by_judge(by_model[m], a), _by_judge(by_model[m], b)
            for c in criteria:
                if c.name in va.scores and c.name in vb.scores:
                    criterion_diffs[c.name].append(abs(va.scores[c.name].score - vb.scores[c.name].score))
        if len(common) >= MIN_MODELS_FOR_CORRELATION:
            xs, ys = [weighted[a][m] for m in common], [weighted[b][m] for m in common]
            rho, tau = spearman(xs, ys), kendall(xs, ys)
            if rho is not None:
                rhos.append(rho)
            if tau is not None:
                taus.append(tau)
    mad = mean(diffs)
    return {
        "judges": judges,
        "meanAbsDiff": round(mad, 3) if mad is not None else None,
        "spearman": _round(mean(rhos)),
        "kendall": _round(mean(taus)),
        "comparedModels": len({m for j in judges for m in weighted[j]}),
        "perCriterionMean": {
            m: {name: round(sum(v) / len(v), 2) for name, v in crits.items()} for m, crits in per_criterion.items()
        },
        "perCriterionMeanAbsDiff": {name: _round(mean(d), 3) for name, d in criterion_diffs.items()},
        "unscoredByJudge": {
            j: sum(_by_judge(vs, j).status != "scored" for vs in by_model.values() if _has_judge(vs, j)) for j in judges
        },
    }


def _by_judge(verdicts: list[Verdict], judge: str) -> Verdict:
    return next(v for v in verdicts if v.judge_model_id == judge)


def _has_judge(verdicts: list[Verdict], judge: str) -> bool:
    return any(v.judge_model_id == judge for v in verdicts)


def _round(value: float | None, digits: int = 4) -> float | None:
    return round(value, digits) if value is not None else None
