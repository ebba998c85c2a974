"""Two runs of a bake-off side by side: per model and criterion, the change from run A (before) to run
B (after), with a paired test over the items both runs scored, the items whose best model changed, and
the cost and latency deltas. Pure functions over parsed ``report.json`` documents (plain dicts), no I/O.

A run's items are its dataset items (``dataset.rows``), or one item named ``article`` for a
single-article run. The paired test needs items on both sides: two single-article runs share one
item, so their change is reported with no test (``tested`` false) and never called significant.

Significant means both paired tests agree: the exact (or normal) Wilcoxon signed-rank test has
``p < alpha`` and the paired bootstrap's 95% interval of the mean change leaves 0 out (when every item
changed by the same amount there is no interval, and the rank test alone decides). The two ask
different questions (is the median change zero, is the mean), so requiring both keeps a gate from
failing on a change only one of them sees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bakeoff.statistics import ALPHA, format_p, paired_bootstrap, wilcoxon_signed_rank

WEIGHTED = "weighted"
SINGLE_ITEM = "article"  # the one item of a single-article run
_DIFF_DECIMALS = 9


@dataclass(frozen=True)
class RunScores:
    """What a comparison needs from one ``report.json``: per model, per item, per criterion a score."""

    evaluation_id: str
    title: str | None
    created_at: str | None
    criteria: list[str]
    names: dict[str, str]  # modelId -> display name
    scores: dict[str, dict[str, dict[str, float]]]  # modelId -> itemId -> criterion (or "weighted") -> score
    cost_usd: dict[str, float | None]
    latency_ms: dict[str, float | None]
    judge_health_failed: bool
    dataset: bool


def _number(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("score")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def judge_health_failed(report: Mapping[str, Any]) -> bool:
    """True when the report's judge health check failed (the control answer was not scored below the
    original). An inconclusive check (``None``) is not a failure."""
    return (report.get("judgeHealth") or {}).get("controlPassed") is False


def run_scores(report: Mapping[str, Any]) -> RunScores:
    """The scores of one parsed ``report.json`` (single-article or dataset), keyed for pairing."""
    models = report.get("models") or []
    criteria = [c["name"] for c in report.get("criteria") or [] if isinstance(c, dict) and "name" in c]
    scores: dict[str, dict[str, dict[str, float]]] = {m["modelId"]: {} for m in models}
    dataset = report.get("dataset")
    if dataset:
        for row in dataset.get("rows") or []:
            if row.get("status") != "ok" or row.get("weightedScore") is None:
                continue
            item = {name: v for name, raw in (row.get("scores") or {}).items() if (v := _number(raw)) is not None}
            item[WEIGHTED] = float(row["weightedScore"])
            scores.setdefault(row["modelId"], {})[str(row["itemId"])] = item
    else:
        for model in models:
            if model.get("weightedScore") is None:
                continue
            item = {name: v for name, raw in (model.get("scores") or {}).items() if (v := _number(raw)) is not None}
            item[WEIGHTED] = float(model["weightedScore"])
            scores[model["modelId"]][SINGLE_ITEM] = item
    return RunScores(
        evaluation_id=str(report.get("evaluationId", "?")),
        title=report.get("title"),
        created_at=report.get("createdAt"),
        criteria=criteria,
        names={m["modelId"]: m.get("name") or m["modelId"] for m in models},
        scores=scores,
        cost_usd={m["modelId"]: m.get("costUsd") for m in models},
        latency_ms={m["modelId"]: m.get("latencyMs") for m in models},
        judge_health_failed=judge_health_failed(report),
        dataset=bool(dataset),
    )


@dataclass(frozen=True)
class Change:
    """One model's change on one criterion (or ``weighted``) from run A to run B."""

    model_id: str
    criterion: str
    items: int  # items both runs scored
    before: float | None  # mean over the shared items
    after: float | None
    delta: float | None  # after - before
    tested: bool  # a paired test was possible (at least two shared items with some difference)
    wilcoxon_p: float | None
    bootstrap_ci: tuple[float, float] | None
    bootstrap_p: float | None
    improved: int  # shared items scored higher in B
    worsened: int
    significant: bool

    @property
    def worse(self) -> bool:
        return self.significant and (self.delta or 0) < 0

    @property
    def better(self) -> bool:
        return self.significant and (self.delta or 0) > 0

    def verdict(self) -> str:
        if self.items == 0:
            return "no shared items"
        if self.worse:
            return "significantly worse"
        if self.better:
            return "significantly better"
        if self.delta == 0 and self.worsened == 0 and self.improved == 0:
            return "no change"
        if not self.tested:
            return f"not testable ({self.items} shared item{'s' if self.items != 1 else ''})"
        return "no significant change"

    def figures(self) -> str:
        """The paired test's figures, for a line of text."""
        if not self.tested:
            if self.items >= 2 and self.improved == self.worsened == 0:
                return f"n={self.items}, the same score on every item"
            return f"{self.items} shared item(s), no paired test"
        parts = [
            f"n={self.items}",
            f"Wilcoxon {format_p(self.wilcoxon_p)}"
            if self.wilcoxon_p is not None
            else "Wilcoxon: no non-zero difference",
        ]
        if self.bootstrap_ci is not None:
            parts.append(f"bootstrap 95% CI [{self.bootstrap_ci[0]:+.2f}, {self.bootstrap_ci[1]:+.2f}]")
        return ", ".join(parts)


def change(
    model_id: str,
    criterion: str,
    a: Mapping[str, float],
    b: Mapping[str, float],
    *,
    alpha: float = ALPHA,
    resamples: int = 2000,
    seed: int | str = 0,
) -> Change:
    """The paired change of ``b`` over ``a`` (item -> score) on the items both hold."""
    shared = sorted(a.keys() & b.keys())
    before = [a[i] for i in shared]
    after = [b[i] for i in shared]
    diffs = [round(y - x, _DIFF_DECIMALS) for x, y in zip(before, after, strict=True)]
    mean = lambda xs: math.fsum(xs) / len(xs) if xs else None  # noqa: E731 - one-line helper
    test = wilcoxon_signed_rank(diffs) if len(diffs) >= 2 else None
    boot = (
        paired_bootstrap(diffs, resamples=resamples, seed=f"{seed}/{model_id}/{criterion}") if len(diffs) >= 2 else None
    )
    tested = test is not None and test.p is not None
    ci = boot.ci if boot else None
    # Every item changed by the same amount: the bootstrap has no spread to show (no interval), and the
    # rank test alone decides (12 items all 2 points lower is as clear as a drop gets).
    significant = bool(tested and test.p < alpha and (ci is None or ci[0] > 0 or ci[1] < 0))
    delta = mean(diffs)
    return Change(
        model_id=model_id,
        criterion=criterion,
        items=len(shared),
        before=_r(mean(before)),
        after=_r(mean(after)),
        delta=_r(delta),
        tested=tested,
        wilcoxon_p=test.p if test else None,
        bootstrap_ci=(_r(ci[0]), _r(ci[1])) if ci else None,  # type: ignore[arg-type]
        bootstrap_p=boot.p if boot else None,
        improved=sum(d > 0 for d in diffs),
        worsened=sum(d < 0 for d in diffs),
        significant=significant,
    )


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class Flip:
    """An item whose best model is not the same in both runs."""

    item_id: str
    before: list[str]  # the best model(s) in run A (several on a tie)
    after: list[str]


@dataclass
class Comparison:
    a: RunScores
    b: RunScores
    changes: list[Change]
    flips: list[Flip]
    only_a: list[str]  # models in A only
    only_b: list[str]
    cost_delta_usd: dict[str, float | None] = field(default_factory=dict)
    latency_delta_ms: dict[str, float | None] = field(default_factory=dict)

    @property
    def worse(self) -> list[Change]:
        return [c for c in self.changes if c.worse]

    def find(self, model_id: str, criterion: str) -> Change | None:
        return next((c for c in self.changes if c.model_id == model_id and c.criterion == criterion), None)

    def name(self, model_id: str) -> str:
        return self.b.names.get(model_id) or self.a.names.get(model_id) or model_id

    def dump(self) -> dict[str, Any]:
        """JSON-ready (camelCase, as report.json)."""
        return {
            "before": _run_header(self.a),
            "after": _run_header(self.b),
            "changes": [
                {
                    "modelId": c.model_id,
                    "name": self.name(c.model_id),
                    "criterion": c.criterion,
                    "items": c.items,
                    "before": c.before,
                    "after": c.after,
                    "delta": c.delta,
                    "tested": c.tested,
                    "wilcoxonP": c.wilcoxon_p,
                    "bootstrapCi95": list(c.bootstrap_ci) if c.bootstrap_ci else None,
                    "bootstrapP": c.bootstrap_p,
                    "improved": c.improved,
                    "worsened": c.worsened,
                    "significant": c.significant,
                    "verdict": c.verdict(),
                }
                for c in self.changes
            ],
            "flips": [{"itemId": f.item_id, "before": f.before, "after": f.after} for f in self.flips],
            "onlyBefore": self.only_a,
            "onlyAfter": self.only_b,
            "costDeltaUsd": self.cost_delta_usd,
            "latencyDeltaMs": self.latency_delta_ms,
            "significantlyWorse": [{"modelId": c.model_id, "criterion": c.criterion} for c in self.worse],
        }


def _run_header(run: RunScores) -> dict[str, Any]:
    return {
        "evaluationId": run.evaluation_id,
        "title": run.title,
        "createdAt": run.created_at,
        "judgeHealthFailed": run.judge_health_failed,
        "dataset": run.dataset,
    }


def _best(per_model: Mapping[str, Mapping[str, float]]) -> list[str]:
    if not per_model:
        return []
    top = max(per_model.values(), key=lambda s: s[WEIGHTED])[WEIGHTED]
    return sorted(m for m, s in per_model.items() if s[WEIGHTED] == top)


def _delta(a: float | None, b: float | None, digits: int) -> float | None:
    return None if a is None or b is None else round(b - a, digits)


def compare_reports(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    alpha: float = ALPHA,
    resamples: int = 2000,
    seed: int | str = 0,
) -> Comparison:
    """Compare two parsed ``report.json`` documents: ``before`` is the baseline (A), ``after`` the new run (B)."""
    return compare_runs(run_scores(before), run_scores(after), alpha=alpha, resamples=resamples, seed=seed)


def compare_runs(
    a: RunScores, b: RunScores, *, alpha: float = ALPHA, resamples: int = 2000, seed: int | str = 0
) -> Comparison:
    models = [m for m in b.scores if m in a.scores]
    criteria = [WEIGHTED] + [c for c in b.criteria if c in a.criteria]
    changes = []
    for model_id in models:
        for criterion in criteria:
            per_a = {i: s[criterion] for i, s in a.scores[model_id].items() if criterion in s}
            per_b = {i: s[criterion] for i, s in b.scores[model_id].items() if criterion in s}
            changes.append(change(model_id, criterion, per_a, per_b, alpha=alpha, resamples=resamples, seed=seed))
    flips = []
    items = sorted({i for m in models for i in a.scores[m]} & {i for m in models for i in b.scores[m]})
    for item in items:
        # The best model among those both runs scored on this item, so a model added or dropped is no flip.
        scored = [m for m in models if item in a.scores[m] and item in b.scores[m]]
        best_a = _best({m: a.scores[m][item] for m in scored})
        best_b = _best({m: b.scores[m][item] for m in scored})
        if len(scored) > 1 and best_a != best_b:
            flips.append(Flip(item, best_a, best_b))
    return Comparison(
        a=a,
        b=b,
        changes=changes,
        flips=flips,
        only_a=[m for m in a.scores if m not in b.scores],
        only_b=[m for m in b.scores if m not in a.scores],
        cost_delta_usd={m: _delta(a.cost_usd.get(m), b.cost_usd.get(m), 8) for m in models},
        latency_delta_ms={m: _delta(a.latency_ms.get(m), b.latency_ms.get(m), 1) for m in models},
    )
