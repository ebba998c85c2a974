"""The score gates of ``bakeoff submit`` and ``bakeoff local run``: what makes a CI job fail.

- ``--min-score [MODEL:]CRITERION=VALUE``: the best model (or the named one) scores at least VALUE.
- ``--max-regression [MODEL:]CRITERION=DROP`` (with ``--baseline RUN``): no model (or the named one) lost
  more than DROP against the baseline *significantly* (``bakeoff.compare``: Wilcoxon and the paired
  bootstrap agree). Two single-article runs share one item and allow no test: there the drop alone
  decides, and the line says so.
- No gate passes when the run's judge health check failed (the judge scored the corrupted control
  answer no lower than the original), unless ``--allow-unhealthy-judge``: a judge that cannot tell a
  broken answer from a good one makes every score gate meaningless.

Gates are checked against the request before it is sent (``check_against_request``): a criterion or
model the request does not have would make the gate fail after the run was paid for.

CRITERION is a criterion of the request or ``weighted``. MODEL is a model ID of the request; model IDs
hold colons (``...-v1:0``), criterion names never do, so the last colon before ``=`` splits them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bakeoff.compare import WEIGHTED, Comparison, judge_health_failed


def _number(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("score")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _split(option: str, spec: str, example: str) -> tuple[str | None, str, float]:
    target, sep, value = spec.rpartition("=")
    model, colon, criterion = target.rpartition(":")
    try:
        number = float(value)
        if not sep or not criterion.strip() or (colon and not model.strip()) or not math.isfinite(number):
            raise ValueError(spec)
    except ValueError:
        raise ValueError(f"{option} {spec!r}: expected [MODEL:]CRITERION=NUMBER, e.g. {example}") from None
    return (model.strip() or None), criterion.strip(), number


@dataclass(frozen=True)
class MinScore:
    criterion: str
    minimum: float
    model: str | None = None  # None: the best-ranked model

    option = "--min-score"

    @classmethod
    def parse(cls, spec: str) -> MinScore:
        model, criterion, value = _split(cls.option, spec, "accuracy=7 or MODEL:weighted=7")
        return cls(criterion, value, model)

    def check(self, ranking: list[Mapping[str, Any]]) -> tuple[bool, str]:
        """``ranking``: the scored models best first, each with modelId, weightedScore and scores."""
        label = f"{self.criterion} >= {self.minimum:g}" + (f" for {self.model}" if self.model else "")
        if self.model is None:
            entry = ranking[0] if ranking else None
            if entry is None:
                return False, f"{label}: no model was scored"
        else:
            entry = next((r for r in ranking if r.get("modelId") == self.model), None)
            if entry is None:
                return False, f"{label}: {self.model} was not scored"
        value = (
            entry.get("weightedScore")
            if self.criterion == WEIGHTED
            else _number((entry.get("scores") or {}).get(self.criterion))
        )
        if value is None:
            return False, f"{label}: {entry['modelId']} has no {self.criterion!r} score"
        return value >= self.minimum, f"{label}: {entry['modelId']} scored {value:g}"


@dataclass(frozen=True)
class MaxRegression:
    criterion: str
    max_drop: float
    model: str | None = None  # None: every model both runs have

    option = "--max-regression"

    @classmethod
    def parse(cls, spec: str) -> MaxRegression:
        model, criterion, value = _split(cls.option, spec, "weighted=0.5")
        if value < 0:
            raise ValueError(f"{cls.option} {spec!r}: the allowed drop is a positive number, e.g. weighted=0.5")
        return cls(criterion, value, model)

    def check(self, comparison: Comparison) -> list[tuple[bool, str]]:
        label = f"{self.criterion} drop <= {self.max_drop:g}"
        models = [self.model] if self.model else sorted({c.model_id for c in comparison.changes})
        lines = []
        for model_id in models:
            found = comparison.find(model_id, self.criterion)
            if found is None or found.items == 0:
                lines.append((False, f"{label} for {model_id}: not scored in both runs"))
                continue
            drop = -(found.delta or 0.0)
            text = f"{label} for {model_id}: {found.before:g} -> {found.after:g} ({found.figures()})"
            if drop <= self.max_drop:
                lines.append((True, text))
            elif found.items == 1:
                lines.append((False, text + "; one shared item allows no test, so the drop alone decides"))
            else:
                ok = not found.significant
                lines.append((ok, text + ("; not significant" if ok else "; significant")))
        return lines


@dataclass(frozen=True)
class Gates:
    min_scores: list[MinScore]
    max_regressions: list[MaxRegression]
    allow_unhealthy_judge: bool = False

    @classmethod
    def parse(
        cls, min_scores: Iterable[str] = (), max_regressions: Iterable[str] = (), *, allow_unhealthy_judge: bool = False
    ) -> Gates:
        return cls(
            [MinScore.parse(s) for s in min_scores],
            [MaxRegression.parse(s) for s in max_regressions],
            allow_unhealthy_judge,
        )

    def __bool__(self) -> bool:
        return bool(self.min_scores or self.max_regressions)

    def check_against_request(self, request: Any, *, baseline: Mapping[str, Any] | None = None) -> list[str]:
        """Why a gate cannot be evaluated on this request (and baseline), before anything is paid for."""
        problems: list[str] = []
        if not isinstance(request, dict):
            return problems
        criteria = set(request.get("scoringCriteria") or {}) | {WEIGHTED}
        models = [m for m in request.get("models") or [] if isinstance(m, str)]
        for gate in [*self.min_scores, *self.max_regressions]:
            if gate.criterion not in criteria:
                problems.append(
                    f"{gate.option} names the criterion {gate.criterion!r}, which the request does not "
                    f"score; use one of: {', '.join(sorted(criteria))}"
                )
            if gate.model is not None and gate.model not in models:
                problems.append(
                    f"{gate.option} names the model {gate.model!r}, which the request does not run; "
                    f"use one of: {', '.join(models)}"
                )
        if baseline is not None:
            base_criteria = {c.get("name") for c in baseline.get("criteria") or [] if isinstance(c, dict)} | {WEIGHTED}
            base_models = {m.get("modelId") for m in baseline.get("models") or [] if isinstance(m, dict)}
            for gate in self.max_regressions:
                if gate.criterion in criteria and gate.criterion not in base_criteria:
                    problems.append(
                        f"--max-regression: the baseline {baseline.get('evaluationId')} has no "
                        f"{gate.criterion!r} score to compare with"
                    )
                if gate.model is not None and gate.model in models and gate.model not in base_models:
                    problems.append(
                        f"--max-regression: the baseline {baseline.get('evaluationId')} did not run {gate.model}"
                    )
        return problems

    def evaluate(
        self, report: Mapping[str, Any] | None, ranking: list[Mapping[str, Any]], comparison: Comparison | None
    ) -> tuple[bool, bool, list[tuple[bool, str]]]:
        """(every gate held, the judge health blocked them, one line per gate check)."""
        lines = [gate.check(ranking) for gate in self.min_scores]
        for gate in self.max_regressions:
            lines += (
                gate.check(comparison)
                if comparison is not None
                else [(False, f"{gate.criterion} drop <= {gate.max_drop:g}: no comparison with the baseline")]
            )
        blocked = False
        if self and not self.allow_unhealthy_judge:
            if report is None:
                lines.append((False, "judge health unknown (report.json could not be read), so no gate can pass"))
            elif judge_health_failed(report):
                blocked = True
                lines.append(
                    (
                        False,
                        "judge health: the control check failed (the judge did not score a corrupted "
                        "answer below the original), so no gate can pass; --allow-unhealthy-judge "
                        "overrides",
                    )
                )
        return all(ok for ok, _ in lines), blocked, lines
