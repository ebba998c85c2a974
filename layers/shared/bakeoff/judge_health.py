"""How far to trust the judge on one run: what the score step measures, and how each measure is graded.

The score step writes the measures (``JudgeMeasures``, in ``scores.json``); the report step adds the
unscored rate and grades every measure once (``grade``), so ``report.json``, ``results.csv`` and the
page all show the same pass / warn / fail. A new measure (a judge probe, say) is a field on
``JudgeMeasures``, a rule in ``grade`` and a row in the page's health table.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from bakeoff.document import Document

Grade = Literal["pass", "warn", "fail", "info"]
#: How bad each grade is; ``info`` is a figure to read, not a check, and never decides the verdict.
SEVERITY: dict[str, int] = {"pass": 0, "warn": 1, "fail": 2}

# When a judge-health figure stops being reassuring. A run has 1-5 candidates, so these are rules
# of thumb, not significance tests: they decide a grade and a banner, the numbers are always shown.
FLIP_RATE_WARN, FLIP_RATE_FAIL = 0.25, 0.5  # GPT-4 flipped 35% of swapped MT-Bench pairs
PANEL_MAD_WARN, PANEL_MAD_FAIL = 1.0, 2.0  # mean absolute difference between judges, in score points
LENGTH_BIAS_WARN = 0.7  # |Pearson r| between answer length and score
LENGTH_BIAS_MIN_ANSWERS = 3  # two points always correlate
UNSCORED_FAIL = 0.5


class ControlLine(Document):
    """One judge's part of the control check."""

    original_score: float | None = None
    control_score: float | None = None
    passed: bool | None = None
    reason: str | None = None


class ControlCheck(Document):
    """A deliberately corrupted copy of the best answer, judged like the others. ``passed`` is None
    (not False), with a ``reason``, when the check is inconclusive."""

    passed: Annotated[
        bool | None,
        Field(
            description="Every judge that scored both put the control strictly "
            "below the original; null when inconclusive (the judge could not "
            "score the control, or the original already scored 1)."
        ),
    ]
    model_id: Annotated[str, Field(description="Whose answer was corrupted (the best one).")]
    original_score: Annotated[float | None, Field(description="The original's weighted score (judges' mean).")] = None
    control_score: Annotated[float | None, Field(description="The corrupted copy's.")] = None
    corruption: Annotated[str, Field(description="What was changed, in words.")]
    per_judge: Annotated[
        dict[str, ControlLine] | None, Field(description="{judgeModelId: that judge's scores and result}.")
    ] = None
    reason: Annotated[str | None, Field(description="Why the check was inconclusive.")] = None


class PanelAgreement(Document):
    """With 2-3 judges: how far apart their weighted scores are and how alike their rankings."""

    judges: list[str]
    mean_abs_diff: Annotated[float | None, Field(description="Weighted-score points.")]
    spearman: Annotated[
        float | None, Field(description="Rank agreement over the models (1 = identical); null below 3 models.")
    ]
    kendall: Annotated[float | None, Field(description="Likewise, Kendall's tau.")]
    compared_models: int
    per_criterion_mean: Annotated[
        dict[str, dict[str, float]], Field(description="{modelId: {criterion: mean over the judges}}.")
    ] = {}
    per_criterion_mean_abs_diff: Annotated[dict[str, float | None], Field(description="{criterion: points}.")] = {}
    unscored_by_judge: Annotated[dict[str, int], Field(description="{judgeModelId: answers it could not score}.")] = {}


class PairwiseSummary(Document):
    """``mode: pairwise``: every pair judged in both orders."""

    position_flip_rate: Annotated[float | None, Field(description="0-1: pairs whose winner changed with the order.")]
    pairs: int
    wins: Annotated[dict[str, int], Field(description="{modelId: wins}; a win holds in both orders.")]
    ties: int
    unscored: Annotated[int, Field(description="Pairs with an unusable reply.")]
    first_preferred_rate: Annotated[
        float | None, Field(description="How often the first-shown answer was preferred; 0.5 is no lean.")
    ] = None
    results: Annotated[
        list[dict[str, Any]] | None,
        Field(description="One line per judge and pair: its outcome and both orders' preferences."),
    ] = None


class LengthBias(Document):
    """Answer length (words) against weighted score over the scored models."""

    pearson: Annotated[float | None, Field(description="Pearson's r; null below 3 models.")]
    n: Annotated[int, Field(description="Scored models it is computed over.")]


class JudgeMeasures(Document):
    """``judgeHealth`` as the score step measures it; each member is null when not measured."""

    control: ControlCheck | None = None
    control_passed: Annotated[
        bool | None,
        Field(description="``control.passed``, for quick reading; in a dataset, whether every item's control passed."),
    ] = None
    panel: PanelAgreement | None = None
    pairwise: PairwiseSummary | None = None
    length_bias: LengthBias | None = None
    probes: Annotated[
        dict[str, Any] | None,
        Field(
            description="judgeProbes only: per kind of planted error (number, negation, name, claim) whether the judge "
            "scored the corrupted copy below the original (bakeoff.probes): kinds, modelId, results, caught, missed, "
            "summary; a dataset gives each kind's catchRate over items."
        ),
    ] = None
    noise: Annotated[
        float | None, Field(description="The judge's noise in weighted-score points; gaps below it are ties.")
    ] = None
    noise_source: Annotated[
        Literal["panel", "default"] | None,
        Field(description="panel: measured as the panel's disagreement; default: one point on the heaviest criterion."),
    ] = None


class JudgeHealth(JudgeMeasures):
    """``report.json``'s ``judgeHealth``: the score step's measures, the unscored rate over every answer
    that reached the judge, and each measure's grade."""

    unscored_rate: Annotated[float | None, Field(description="0-1; null when no answer reached the judge.")]
    judged: int
    unscored: int
    control_pass_rate: Annotated[
        float | None, Field(description="Dataset only: the share of items whose control passed.")
    ] = None
    checks: Annotated[
        dict[str, Grade],
        Field(
            description="Each measure present, graded: pass, warn, fail, "
            "or info (a figure to read, not a check). Keys are the "
            "measures' field names (unscoredRate, control, panel, "
            "pairwise, lengthBias, noise)."
        ),
    ]
    verdict: Annotated[
        Literal["pass", "warn", "fail"] | None,
        Field(description="The worst grade among the checks; null when nothing was graded."),
    ]

    @classmethod
    def graded(cls, **fields: Any) -> JudgeHealth:
        """The judge's health with ``checks`` and ``verdict`` computed from the measures given."""
        checks = grade(**fields)
        return cls(**fields, checks=checks, verdict=worst(checks))


def grade(
    *,
    unscored_rate: float | None = None,
    control: ControlCheck | None = None,
    control_passed: bool | None = None,
    panel: PanelAgreement | None = None,
    pairwise: PairwiseSummary | None = None,
    length_bias: LengthBias | None = None,
    probes: dict[str, Any] | None = None,
    noise: float | None = None,
    **_others: Any,
) -> dict[str, Grade]:
    """Every measure present, graded. Absent measures have no entry (nothing to grade)."""
    checks: dict[str, Grade] = {}
    if unscored_rate is not None:
        checks["unscoredRate"] = (
            "pass" if unscored_rate == 0 else ("fail" if unscored_rate >= UNSCORED_FAIL else "warn")
        )
    if control is not None or control_passed is not None:
        passed = control.passed if control is not None else control_passed
        # An inconclusive control is a warning: the run could not show the judge reads closely.
        checks["control"] = "warn" if passed is None else ("pass" if passed else "fail")
    if panel is not None:
        mad = panel.mean_abs_diff
        checks["panel"] = (
            "info" if mad is None else "pass" if mad <= PANEL_MAD_WARN else "warn" if mad <= PANEL_MAD_FAIL else "fail"
        )
    if pairwise is not None:
        flips = pairwise.position_flip_rate
        checks["pairwise"] = (
            "warn"
            if flips is None
            else "pass"
            if flips < FLIP_RATE_WARN
            else "warn"
            if flips < FLIP_RATE_FAIL
            else "fail"
        )
    if length_bias is not None:
        r = length_bias.pearson
        checks["lengthBias"] = (
            "info"
            if r is None or length_bias.n < LENGTH_BIAS_MIN_ANSWERS
            else "warn"
            if abs(r) >= LENGTH_BIAS_WARN
            else "pass"
        )
    if probes is not None and probes.get("results"):
        # A missed kind of error is a failed check: the judge cannot see it (bakeoff.probes).
        checks["probes"] = "fail" if probes.get("missed") else ("pass" if probes.get("caught") else "warn")
    if noise is not None:
        checks["noise"] = "info"
    return checks


def worst(checks: dict[str, Grade]) -> Literal["pass", "warn", "fail"] | None:
    graded = [g for g in checks.values() if g in SEVERITY]
    return max(graded, key=SEVERITY.__getitem__) if graded else None  # type: ignore[return-value]
