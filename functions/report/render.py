"""HTML and CSV renderings of a report (from its ``report.json`` dict), and the HTML index of all reports.

The HTML is one self-contained file: inline CSS, inline SVG charts, one small inline script (column
sorting) and nothing fetched, so it opens the same from S3, from disk or from an e-mail attachment, with
JavaScript on or off. Model output, judge reasons and error messages are untrusted text: Jinja2 escapes
every value (autoescape on), and the page's Content-Security-Policy admits exactly our one ``<style>``
and one ``<script>`` by hash, so even a slip in escaping could neither run script nor fetch anything.

``report.json`` grows as the judge, cost and metrics work lands; every field beyond the core set is
optional here. The normalisation below (``_report_view``) is the one place that knows which fields may
be missing, so the templates never touch a raw key and ``StrictUndefined`` catches template typos.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from functions.report.probes_view import probe_checks
from functions.report.reference_view import reference_view

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

#: Okabe-Ito, a palette that stays distinguishable for the common colour-vision deficiencies; the
#: CSS defines ``.c0``-``.c5`` from it and each model keeps its colour across charts and columns.
PALETTE_SIZE = 6

# When a judge-health figure stops being reassuring. A run has 1-5 candidates, so these are rules
# of thumb, not significance tests: they decide a badge and a banner, the numbers are always shown.
FLIP_RATE_WARN, FLIP_RATE_FAIL = 0.25, 0.5  # GPT-4 flipped 35% of swapped MT-Bench pairs
PANEL_MAD_WARN, PANEL_MAD_FAIL = 1.0, 2.0  # mean absolute difference between judges, in score points
LENGTH_BIAS_WARN = 0.7  # |Pearson r| between answer length and score
UNSCORED_FAIL = 0.5


# --- formatting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unpriced:
    """A cost with an unknown part (a model without a price, run with allowUnpriced): shown as
    "unpriced", or "$x + unpriced" when some of it is known; never as $0.00."""

    known: float = 0.0


def usd(value: float | Unpriced | None) -> str:
    """Dollars with sensible precision: cents from $1 up, three significant digits below."""
    if isinstance(value, Unpriced):
        return f"{usd(value.known)} + unpriced" if value.known else "unpriced"
    if value is None:
        return "–"
    if value == 0:
        return "$0.00"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    decimals = max(2, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def num(value: float | int | None, digits: int = 0) -> str:
    """Thousands separators; a dash for a value that does not exist (never a 0)."""
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def seconds(value: float | None) -> str:
    """A duration given in seconds, as people read it."""
    if value is None:
        return "–"
    if value < 1:
        return f"{value:.2f} s"
    if value < 10:
        return f"{value:.1f} s"
    if value < 60:
        return f"{value:.0f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"


def millis(value: float | None) -> str:
    return seconds(None if value is None else value / 1000)


def pct(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def signed_pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.0f}%".replace("-", "−")


def when(value: str | None) -> str:
    """An ISO timestamp as a UTC date and time; anything unparsable is shown as given."""
    if not value:
        return "–"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def plain(value: Any) -> str:
    """Any JSON value as a short line of text, for fields this renderer knows only by name."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return num(value)
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else num(value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    return str(value)


for _name, _filter in {"usd": usd, "num": num, "seconds": seconds, "millis": millis, "pct": pct,
                       "signed_pct": signed_pct, "when": when, "plain": plain}.items():
    _env.filters[_name] = _filter


# --- the view: report.json normalised, every optional field resolved ---------------------------


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _cost(value: Any, unknown_part: bool) -> float | Unpriced | None:
    """A total as shown: the known dollars, marked unpriced when a model without a price is in it."""
    known = _number(value)
    return Unpriced(known or 0.0) if unknown_part else known


def _candidate_estimates(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    lines = (report.get("estimate") or {}).get("lines") or []
    return {line["modelId"]: line for line in lines if line.get("role") == "candidate" and "modelId" in line}


def _model_view(index: int, m: Mapping[str, Any], criteria: list[str], names: Mapping[str, str],
                estimates: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    failed = m.get("status") == "failed"
    weighted = _number(m.get("weightedScore"))
    status = "failed" if failed else ("scored" if weighted is not None and m.get("scoreStatus") != "unscored"
                                      else "unscored")
    scores = m.get("scores") or {}
    usage = m.get("usage") or {}
    estimate = m.get("estimate") or estimates.get(m["modelId"])
    metrics = m.get("metrics") or {}
    panel = m.get("panel") or {}
    tied_with = [t for t in (m.get("tiedWith") or []) if t != m["modelId"]]
    error = m.get("error") or {}
    return {
        "id": m["modelId"],
        "name": m.get("name") or m["modelId"],
        "color": index % PALETTE_SIZE,
        "rank": m.get("rank"),
        "status": status,
        "weighted": weighted if status == "scored" else None,
        "scores": {c: ({"score": scores[c].get("score"), "reason": scores[c].get("reason") or ""}
                       if isinstance(scores.get(c), Mapping) else None) for c in criteria},
        "evidence": [str(e) for e in (m.get("evidence") or [])],
        "output": m.get("output"),
        "input_tokens": usage.get("inputTokens"),
        "output_tokens": usage.get("outputTokens"),
        "latency_ms": _number(m.get("latencyMs")),
        "stop_reason": m.get("stopReason"),
        "cached": bool(m.get("cached")),
        "cost": Unpriced() if m.get("unpriced") else _number(m.get("costUsd")),
        "error": ({"name": error.get("error") or "Error", "message": error.get("message") or ""}
                  if failed else None),
        "unscored_reason": m.get("unscoredReason") or ("the judge did not score this answer"
                                                       if status == "unscored" else None),
        "raw_judge_reply": m.get("rawJudgeReply"),
        "tie": bool(m.get("tie")) or bool(tied_with),
        "tied_with": [names.get(t, t) for t in tied_with],
        "panel": [{"judge": j, "score": _number(s)} for j, s in panel.items()],
        "panel_map": {j: _number(s) for j, s in panel.items()},
        "metrics": {
            "words": metrics.get("wordCount"),
            "compression": _number(metrics.get("compressionRatio")),
            "rouge_l": _number(metrics.get("rougeL")),
            "unsupported_numbers": [str(x) for x in (metrics.get("unsupportedNumbers") or [])],
            "unsupported_names": [str(x) for x in (metrics.get("unsupportedNames") or [])],
        } if metrics else None,
        "estimate": {"input_tokens": estimate.get("inputTokens"),
                     "output_tokens": estimate.get("outputTokens"),
                     "cost": _number(estimate.get("costUsd")) if estimate.get("costUsd") is not None
                     else Unpriced()} if estimate else None,
    }


def _check(label: str, value: str, verdict: str, note: str) -> dict[str, str]:
    return {"label": label, "value": value, "verdict": verdict, "note": note}


def _health_checks(health: Mapping[str, Any]) -> list[dict[str, str]]:
    """The judge's health as rows of check / figure / verdict (pass, warn, fail, info) / meaning."""
    checks = []
    rate = _number(health.get("unscoredRate"))
    if rate is not None:
        verdict = "pass" if rate == 0 else ("fail" if rate >= UNSCORED_FAIL else "warn")
        checks.append(_check("Unscored answers", f"{pct(rate)} ({health.get('unscored', 0)} of "
                             f"{health.get('judged', 0)})", verdict,
                             "Answers the judge could not score; they are listed, never counted as 0."))
    control = _mapping(health.get("control"))
    if control or health.get("controlPassed") is not None:
        passed = control.get("passed", health.get("controlPassed"))
        original, corrupted = _number(control.get("originalScore")), _number(control.get("controlScore"))
        what = plain(control.get("corruption")) if control.get("corruption") else "facts changed"
        if passed is None:
            reason = control.get("reason") or "the judge could not score the control answer"
            checks.append(_check("Control answer", "not measured", "warn", plain(reason)))
        else:
            figure = (f"original {num(original, 2)} vs corrupted {num(corrupted, 2)}"
                      if original is not None and corrupted is not None else "passed" if passed else "failed")
            note = f"A deliberately corrupted copy of the best answer ({what}) must score below the original."
            if not passed:
                note += " It did not: the judge may not be reading the answers closely."
            checks.append(_check("Control answer", figure, "pass" if passed else "fail", note))
    panel = _mapping(health.get("panel"))
    if panel:
        mad = _number(panel.get("meanAbsDiff"))
        rho, tau = _number(panel.get("spearman")), _number(panel.get("kendall"))
        figure = ", ".join(x for x in (f"mean |Δ| {num(mad, 2)} points" if mad is not None else "",
                                       f"Spearman {num(rho, 2)}" if rho is not None else "",
                                       f"Kendall {num(tau, 2)}" if tau is not None else "") if x) or "–"
        verdict = ("info" if mad is None else "pass" if mad <= PANEL_MAD_WARN
                   else "warn" if mad <= PANEL_MAD_FAIL else "fail")
        unscored_by = {j: n for j, n in _mapping(panel.get("unscoredByJudge")).items() if n}
        judges = panel.get("judges") or []
        checks.append(_check("Judge panel agreement", figure, verdict,
                             f"{len(judges) or 'Several'} judges scored every answer: how far apart their "
                             "weighted scores are, and how alike their rankings (1 = identical)."
                             + (f" Unscored by judge: {plain(unscored_by)}." if unscored_by else "")))
    pairwise = _mapping(health.get("pairwise"))
    if pairwise:
        flips = _number(pairwise.get("positionFlipRate"))
        first = _number(pairwise.get("firstPreferredRate"))
        pairs, unusable = pairwise.get("pairs"), pairwise.get("unscored")
        figure = (f"{pct(flips)} of {num(pairs)} pairs" if flips is not None else "no usable pair")
        verdict = ("warn" if flips is None else "pass" if flips < FLIP_RATE_WARN
                   else "warn" if flips < FLIP_RATE_FAIL else "fail")
        checks.append(_check("Position flips", figure, verdict,
                             "Pairs judged in both orders whose winner changed with the order; a win counts "
                             "only when it holds both ways."
                             + (f" The first-shown answer was preferred {pct(first)} of the time (50% is no "
                                "lean)." if first is not None else "")
                             + (f" {num(unusable)} pair(s) had an unusable reply." if unusable else "")))
    checks.extend(probe_checks(_mapping(health.get("probes"))))  # beside the flip rate: what the judge misses
    bias = _mapping(health.get("lengthBias"))
    if bias:
        r, n = _number(bias.get("pearson")), bias.get("n")
        verdict = "info" if r is None or (n or 0) < 3 else ("warn" if abs(r) >= LENGTH_BIAS_WARN else "pass")
        checks.append(_check("Length bias", (f"Pearson r {num(r, 2)} over {n} answers" if r is not None
                                             else "needs 3 scored answers"), verdict,
                             "Correlation between answer length and score; near 0 is good. With few answers "
                             "it is a weak signal, and a high value can be real quality."))
    noise = health.get("noise")
    if noise is not None:
        points = _number(noise) if not isinstance(noise, Mapping) else next(
            (_number(noise[k]) for k in ("threshold", "points", "value", "noise") if _number(noise.get(k))
             is not None), None)
        source = {"panel": "measured as the panel's disagreement",
                  "default": "not measured, so one point on the heaviest criterion"}.get(
            str(health.get("noiseSource")), "")
        figure = f"±{num(points, 2)} points" if points is not None else plain(noise)
        note = "Ranking gaps smaller than this are marked as ties" + (f" ({source})." if source else ".")
        checks.append(_check("Judge noise", figure, "info", note))
    return checks


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _ticks(top: float, target: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if top <= 0:
        return [0.0]
    raw = top / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(f * magnitude for f in (1, 2, 2.5, 5, 10) if raw <= f * magnitude)
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 12) for i in range(count + 1)]


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bars_chart(models: list[dict[str, Any]], criteria: list[str]) -> dict[str, Any] | None:
    scored = [m for m in models if m["status"] == "scored"]
    if not scored or not criteria:
        return None
    width, height, left, right, top, bottom = 760, 250, 34, 8, 12, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    group_w = plot_w / len(criteria)
    bar_w = min(34.0, group_w * 0.8 / len(scored))
    bars, groups = [], []
    for g, criterion in enumerate(criteria):
        start = left + g * group_w + (group_w - bar_w * len(scored)) / 2
        groups.append({"x": left + (g + 0.5) * group_w, "label": _short(criterion, 28)})
        for i, m in enumerate(scored):
            entry = m["scores"].get(criterion)
            score = _number(entry["score"]) if entry else None
            if score is None:
                continue
            h = plot_h * min(score, 10) / 10
            bars.append({"x": round(start + i * bar_w + 1, 1), "y": round(top + plot_h - h, 1),
                         "w": round(bar_w - 2, 1), "h": round(h, 1), "color": m["color"], "value": num(score),
                         "title": f"{m['name']}: {criterion} {num(score)}/10", "model": m["id"]})
    return {"width": width, "height": height, "left": left, "right": width - right, "top": top,
            "bottom": top + plot_h, "bars": bars, "groups": groups, "label_y": height - 10,
            "yticks": [{"y": round(top + plot_h * (1 - t / 10), 1), "label": num(t)}
                       for t in range(0, 11, 2)]}


def _scatter_chart(models: list[dict[str, Any]]) -> dict[str, Any] | None:
    points = [m for m in models if m["status"] == "scored" and isinstance(m["cost"], float)]
    if not points:
        return None
    width, height, left, right, top, bottom = 460, 280, 46, 24, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    xticks = _ticks(max(m["cost"] for m in points))
    x_max = xticks[-1] or 1.0
    y_min = max(0.0, math.floor(min(m["weighted"] for m in points)) - 1)
    y_min = min(y_min, 8.0)
    dots = []
    for m in points:
        x = left + plot_w * m["cost"] / x_max
        y = top + plot_h * (1 - (m["weighted"] - y_min) / (10 - y_min))
        dots.append({"x": round(x, 1), "y": round(y, 1), "color": m["color"], "model": m["id"],
                     "label": _short(m["name"]), "anchor": "end" if x > left + plot_w * 0.6 else "start",
                     "title": f"{m['name']}: score {num(m['weighted'], 2)}, cost {usd(m['cost'])}"})
    # Labels sit beside their dots; nudge them apart vertically so close models stay readable.
    placed: list[float] = []
    for dot in sorted(dots, key=lambda d: d["y"]):
        label_y = dot["y"] + 4
        while any(abs(label_y - other) < 13 for other in placed):
            label_y += 13
        placed.append(label_y)
        dot["label_y"] = round(label_y, 1)
        dot["label_x"] = round(dot["x"] - 9 if dot["anchor"] == "end" else dot["x"] + 9, 1)
    y_ticks = [t for t in range(math.ceil(y_min), 11) if (10 - y_min) <= 5 or t % 2 == 0]
    paid = [m for m in points if m["cost"] > 0]
    best_value = max(paid, key=lambda m: m["weighted"] / m["cost"]) if len(paid) > 1 else None
    return {"width": width, "height": height, "left": left, "right": width - right, "top": top,
            "bottom": top + plot_h, "dots": dots, "label_y": height - 6,
            "xticks": [{"x": round(left + plot_w * t / x_max, 1), "label": usd(t)} for t in xticks],
            "yticks": [{"y": round(top + plot_h * (1 - (t - y_min) / (10 - y_min)), 1), "label": num(t)}
                       for t in y_ticks],
            "all_free": not paid, "best_value": best_value["name"] if best_value else None}


def _latency_chart(models: list[dict[str, Any]]) -> dict[str, Any] | None:
    timed = [m for m in models if m["latency_ms"] is not None]
    if not timed:
        return None
    row, left, right, top = 26, 168, 64, 6
    width = 460
    plot_w = width - left - right
    xticks = _ticks(max(m["latency_ms"] for m in timed) / 1000, 4)
    x_max = xticks[-1] or 1.0
    height = top + row * len(timed) + 24
    bars = []
    for i, m in enumerate(timed):
        w = plot_w * (m["latency_ms"] / 1000) / x_max
        y = top + i * row
        bars.append({"x": left, "y": y + 5, "w": round(max(w, 1.0), 1), "h": row - 10, "color": m["color"],
                     "model": m["id"], "name": _short(m["name"]), "name_y": y + row / 2 + 4,
                     "value": millis(m["latency_ms"]), "value_x": round(left + max(w, 1.0) + 5, 1),
                     "title": f"{m['name']}: {millis(m['latency_ms'])}"
                              + (" (cached)" if m["cached"] else "")})
    return {"width": width, "height": height, "left": left, "top": top, "bottom": top + row * len(timed),
            "bars": bars, "label_y": height - 6,
            "xticks": [{"x": round(left + plot_w * t / x_max, 1), "label": seconds(t)} for t in xticks]}


def _wall_time(report: Mapping[str, Any]) -> tuple[float | None, bool]:
    """Seconds from request to report: measured when the run says so, else from the two timestamps."""
    measured = _number(report.get("wallTimeSeconds"))
    if measured is not None:
        return measured, False
    try:
        start = datetime.fromisoformat(report["createdAt"])
        end = datetime.fromisoformat(report["reportedAt"])
    except (KeyError, TypeError, ValueError):
        return None, False
    # reportedAt is kept to the second, createdAt is not: never show a negative duration.
    return max(0.0, (end - start).total_seconds()), True


def _report_view(report: Mapping[str, Any]) -> dict[str, Any]:
    criteria = [{"name": c["name"], "weight": c.get("weight"), "description": c.get("description") or ""}
                for c in report.get("criteria") or []]
    names_list = [c["name"] for c in criteria]
    raw_models = report.get("models") or []
    names = {m["modelId"]: m.get("name") or m["modelId"] for m in raw_models}
    estimates = _candidate_estimates(report)
    models = [_model_view(i, m, names_list, names, estimates) for i, m in enumerate(raw_models)]
    scored = sorted((m for m in models if m["status"] == "scored"), key=lambda m: m["rank"] or math.inf)
    totals = report.get("totals") or {}
    health = report.get("judgeHealth") or {}
    checks = _health_checks(health)
    failed_checks = [c["label"] for c in checks if c["verdict"] == "fail"]
    estimate = report.get("estimate") or {}
    unpriced = set(totals.get("unpricedModels") or [])
    judge_lines = [line for line in estimate.get("lines") or [] if line.get("role") == "judge"]
    wall, derived = _wall_time(report)
    winner = scored[0] if scored else None
    runner_up = scored[1] if len(scored) > 1 else None
    judges = report.get("judgeModelIds") or [report.get("judgeModelId")]
    panel_judges = list(dict.fromkeys(p["judge"] for m in models for p in m["panel"]))
    bedrock = [{"id": b.get("modelId", ""), "name": b.get("name") or b.get("modelId", ""),
                "cost": _number(b.get("costUsd"))} for b in report.get("bedrockEquivalent") or []]
    bedrock_costs = [b["cost"] for b in bedrock if b["cost"] is not None]
    request = report.get("request") or {}
    panel_health = _mapping(health.get("panel"))
    per_criterion = _mapping(panel_health.get("perCriterionMean"))
    pairwise = _mapping(health.get("pairwise"))
    return {
        "id": report.get("evaluationId", ""),
        "title": report.get("title") or "Bakeoff report",
        "created": report.get("createdAt"),
        "reported": report.get("reportedAt"),
        "schema_version": report.get("schemaVersion"),
        "prompt": report.get("prompt") or request.get("prompt") or "",
        "criteria": criteria,
        "judges": [j for j in judges if j],
        "models": models,
        "winner": winner,
        "runner_up": runner_up,
        "margin": (winner["weighted"] - runner_up["weighted"]) if winner and runner_up else None,
        "totals": {
            "models": totals.get("models", len(models)),
            "ok": totals.get("ok", sum(m["status"] != "failed" for m in models)),
            "failed": totals.get("failed", sum(m["status"] == "failed" for m in models)),
            "unscored": totals.get("unscored", sum(m["status"] == "unscored" for m in models)),
            "input_tokens": totals.get("inputTokens"),
            "output_tokens": totals.get("outputTokens"),
            "candidate_cost": _cost(totals.get("candidateCostUsd"), any(isinstance(m["cost"], Unpriced)
                                                                         for m in models)),
        },
        "failed_models": [m["name"] for m in models if m["status"] == "failed"],
        "unscored_models": [m["name"] for m in models if m["status"] == "unscored"],
        "total_cost": _cost(report.get("totalCostUsd", totals.get("totalCostUsd")), bool(unpriced)),
        "judge_cost": _cost(report.get("judgeCostUsd", totals.get("judgeCostUsd")),
                            any(j in unpriced for j in judges)),
        "estimated_cost": _cost(report.get("estimatedCostUsd", estimate.get("totalUsd")),
                                bool(estimate.get("unpriced"))),
        "judge_estimate": {
            "input_tokens": sum(line.get("inputTokens", 0) for line in judge_lines),
            "output_tokens": sum(line.get("outputTokens", 0) for line in judge_lines),
            "calls": sum(line.get("calls", 0) for line in judge_lines),
            "cost": _cost(sum(line.get("costUsd") or 0.0 for line in judge_lines),
                          any(line.get("costUsd") is None for line in judge_lines)),
        } if judge_lines else None,
        "wall_time": wall,
        "wall_time_derived": derived,
        "warnings": [str(w) for w in report.get("warnings") or []],
        "notices": [str(n) for n in report.get("notices") or []],
        "checks": checks,
        "failed_checks": failed_checks,
        "panel_judges": panel_judges,
        # perCriterionMean is {modelId: {criterion: mean over the judges}}; one row per model.
        "per_criterion_mean": [{"name": names.get(mid, mid), "means": _mapping(means)}
                               for mid, means in per_criterion.items()] if per_criterion else None,
        "per_criterion_mad": {k: _number(v)
                              for k, v in _mapping(panel_health.get("perCriterionMeanAbsDiff")).items()},
        "pairwise": {"wins": pairwise.get("wins") or {}, "ties": pairwise.get("ties")} if pairwise else None,
        "has_metrics": any(m["metrics"] for m in models),
        "has_ties": any(m["tie"] for m in models),
        "bedrock": bedrock,
        "bedrock_basis": report.get("bedrockEquivalentBasis"),
        "bedrock_range": (min(bedrock_costs), max(bedrock_costs)) if bedrock_costs else None,
        "names": names,
        "charts": {"bars": _bars_chart(models, names_list), "scatter": _scatter_chart(models),
                   "latency": _latency_chart(models)},
        "request_json": json.dumps(request, indent=2, ensure_ascii=False),
        "article": request.get("article"),
        "dataset": report.get("dataset"),
        "reference": reference_view(report),
    }


# --- rendering -------------------------------------------------------------------------------


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


_static_cache: dict[str, str] = {}


def _static(name: str) -> str:
    """A template with no variables (the CSS, the script), rendered once and kept."""
    if name not in _static_cache:
        _static_cache[name] = _env.get_template(name).render()
    return _static_cache[name]


def _page(template: str, *, script: bool, **context: Any) -> str:
    css = _static("_style.css.j2")
    js = _static("_sort.js.j2") if script else ""
    # Only our own style and script run: by hash, so no 'unsafe-inline' and no source anywhere else.
    # img-src data: admits only the empty data: favicon, which keeps browsers from asking for one.
    policy = (f"default-src 'none'; style-src {_csp_hash(css)}; "
              + (f"script-src {_csp_hash(js)}; " if script else "")
              + "img-src data:; base-uri 'none'; form-action 'none'")
    return _env.get_template(template).render(csp=policy, css=Markup(css), js=Markup(js), **context)


def render_report(report: dict[str, Any]) -> str:
    """The self-contained ``report.html`` for one evaluation's ``report.json``."""
    return _page("report.html.j2", script=True, r=_report_view(report))


def render_index(rows: list[dict[str, Any]]) -> str:
    """``reports/index.html``: every evaluation, newest first, with its winner, cost and status."""
    ordered = sorted(rows, key=lambda row: row.get("createdAt") or "", reverse=True)
    return _page("index.html.j2", script=False, rows=ordered)


# --- CSV -------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """One CSV cell. Text that a spreadsheet would run as a formula is defused with a leading quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_columns(criteria: Iterable[str]) -> list[str]:
    return ["evaluationId", "rank", "modelId", "name", "status", "scoreStatus", "weightedScore", "tie",
            "tiedWith", *(f"score_{c}" for c in criteria), "inputTokens", "outputTokens", "latencyMs",
            "costUsd", "judgeCostUsd", "estimatedInputTokens", "estimatedOutputTokens", "estimatedCostUsd",
            "wordCount", "compressionRatio", "rougeL", "unsupportedNumbers", "unsupportedNames",
            "unscoredReason", "error", "errorMessage"]


def render_csv(report: dict[str, Any]) -> str:
    """``results.csv``: one row per model, in leaderboard order. Unscored and failed models have empty
    score cells, never 0; list fields (unsupported numbers and names) are counted, not listed."""
    criteria = [c["name"] for c in report.get("criteria") or []]
    estimates = _candidate_estimates(report)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_columns(criteria))
    for m in report.get("models") or []:
        usage, metrics, error = m.get("usage") or {}, m.get("metrics") or {}, m.get("error") or {}
        estimate = m.get("estimate") or estimates.get(m["modelId"]) or {}
        scores = m.get("scores") or {}
        writer.writerow(_cell(v) for v in [
            report.get("evaluationId"), m.get("rank"), m["modelId"], m.get("name"), m.get("status"),
            m.get("scoreStatus"), m.get("weightedScore"), bool(m.get("tie") or m.get("tiedWith")),
            m.get("tiedWith") or None,
            *((scores[c].get("score") if isinstance(scores.get(c), Mapping) else None) for c in criteria),
            usage.get("inputTokens"), usage.get("outputTokens"), m.get("latencyMs"),
            "unpriced" if m.get("unpriced") else m.get("costUsd"),
            m.get("judgeCostUsd"), estimate.get("inputTokens"), estimate.get("outputTokens"),
            estimate.get("costUsd"), metrics.get("wordCount"), metrics.get("compressionRatio"),
            metrics.get("rougeL"),
            len(metrics["unsupportedNumbers"]) if "unsupportedNumbers" in metrics else None,
            len(metrics["unsupportedNames"]) if "unsupportedNames" in metrics else None,
            m.get("unscoredReason"), error.get("error"), error.get("message"),
        ])
    return buffer.getvalue()
