"""The judge-health table: one row per measure in ``report.json``'s ``judgeHealth``, in words.

The grades (pass, warn, fail, info) are not decided here: the report step stored them in
``judgeHealth.checks`` (``bakeoff.judge_health.grade``), so the page, the JSON and the CSV agree.
This module only says what each figure is and means.
"""

from __future__ import annotations

from bakeoff.judge_health import JudgeHealth
from functions.report.formats import num, pct, plain
from functions.report.probes_view import probe_checks

NOISE_SOURCES = {
    "panel": "measured as the panel's disagreement",
    "default": "not measured, so one point on the heaviest criterion",
}


def _row(label: str, value: str, verdict: str, note: str) -> dict[str, str]:
    return {"label": label, "value": value, "verdict": verdict, "note": note}


def health_rows(health: JudgeHealth) -> list[dict[str, str]]:
    """The judge's health as rows of check / figure / grade / meaning, for every graded measure."""
    checks = health.checks
    rows = []
    if health.unscored_rate is not None:
        rows.append(
            _row(
                "Unscored answers",
                f"{pct(health.unscored_rate)} ({health.unscored} of {health.judged})",
                checks["unscoredRate"],
                "Answers the judge could not score; they are listed, never counted as 0.",
            )
        )
    control = health.control
    if control is not None or health.control_passed is not None:
        passed = control.passed if control is not None else health.control_passed
        if passed is None:
            reason = (control.reason if control else None) or "the judge could not score the control answer"
            rows.append(_row("Control answer", "not measured", checks["control"], plain(reason)))
        else:
            original = control.original_score if control else None
            corrupted = control.control_score if control else None
            what = plain(control.corruption) if control and control.corruption else "facts changed"
            figure = (
                f"original {num(original, 2)} vs corrupted {num(corrupted, 2)}"
                if original is not None and corrupted is not None
                else "passed"
                if passed
                else "failed"
            )
            note = f"A deliberately corrupted copy of the best answer ({what}) must score below the original."
            if not passed:
                note += " It did not: the judge may not be reading the answers closely."
            rows.append(_row("Control answer", figure, checks["control"], note))
    panel = health.panel
    if panel is not None:
        mad, rho, tau = panel.mean_abs_diff, panel.spearman, panel.kendall
        figure = (
            ", ".join(
                x
                for x in (
                    f"mean |Δ| {num(mad, 2)} points" if mad is not None else "",
                    f"Spearman {num(rho, 2)}" if rho is not None else "",
                    f"Kendall {num(tau, 2)}" if tau is not None else "",
                )
                if x
            )
            or "–"
        )
        unscored_by = {j: n for j, n in panel.unscored_by_judge.items() if n}
        rows.append(
            _row(
                "Judge panel agreement",
                figure,
                checks["panel"],
                f"{len(panel.judges) or 'Several'} judges scored every answer: how far apart their "
                "weighted scores are, and how alike their rankings (1 = identical)."
                + (f" Unscored by judge: {plain(unscored_by)}." if unscored_by else ""),
            )
        )
    pairwise = health.pairwise
    if pairwise is not None:
        flips, first = pairwise.position_flip_rate, pairwise.first_preferred_rate
        figure = f"{pct(flips)} of {num(pairwise.pairs)} pairs" if flips is not None else "no usable pair"
        rows.append(
            _row(
                "Position flips",
                figure,
                checks["pairwise"],
                "Pairs judged in both orders whose winner changed with the order; a win counts "
                "only when it holds both ways."
                + (
                    f" The first-shown answer was preferred {pct(first)} of the time (50% is no lean)."
                    if first is not None
                    else ""
                )
                + (f" {num(pairwise.unscored)} pair(s) had an unusable reply." if pairwise.unscored else ""),
            )
        )
    rows.extend(probe_checks(health.probes or {}))  # beside the flip rate: what the judge misses
    bias = health.length_bias
    if bias is not None:
        figure = (
            f"Pearson r {num(bias.pearson, 2)} over {bias.n} answers"
            if bias.pearson is not None
            else "needs 3 scored answers"
        )
        rows.append(
            _row(
                "Length bias",
                figure,
                checks["lengthBias"],
                "Correlation between answer length and score; near 0 is good. With few answers "
                "it is a weak signal, and a high value can be real quality.",
            )
        )
    if health.noise is not None:
        source = NOISE_SOURCES.get(str(health.noise_source), "")
        rows.append(
            _row(
                "Judge noise",
                f"±{num(health.noise, 2)} points",
                checks["noise"],
                "Ranking gaps smaller than this are marked as ties" + (f" ({source})." if source else "."),
            )
        )
    return rows
