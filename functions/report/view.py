"""The page's view of a ``Report``: plain values named for the templates, every derived figure computed.

The ``Report`` model already says which fields may be absent; this module only shapes and derives
(status as shown, winner and runner-up, costs marked unpriced, chart geometry, health rows), so the
templates never touch ``report.json`` and ``StrictUndefined`` catches template typos.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bakeoff.report import EntryEstimate, ModelEntry, Report, candidate_estimates
from functions.report.charts import bars_chart, latency_chart, scatter_chart
from functions.report.formats import Unpriced
from functions.report.health import health_rows
from functions.report.reference_view import reference_view

#: Okabe-Ito, a palette that stays distinguishable for the common colour-vision deficiencies; the
#: CSS defines ``.c0``-``.c5`` from it and each model keeps its colour across charts and columns.
PALETTE_SIZE = 6


def _float(value: float | None) -> float | None:
    # The page's sort keys (data-v) have always been floats: "2870.0", not "2870".
    return None if value is None else float(value)


def _cost(known: float | None, unknown_part: bool) -> float | Unpriced | None:
    """A total as shown: the known dollars, marked unpriced when a model without a price is in it."""
    return Unpriced(known or 0.0) if unknown_part else known


def _model_view(
    index: int, m: ModelEntry, criteria: list[str], names: Mapping[str, str], estimates: Mapping[str, EntryEstimate]
) -> dict[str, Any]:
    failed = m.status == "failed"
    status = (
        "failed"
        if failed
        else ("scored" if m.weighted_score is not None and m.score_status != "unscored" else "unscored")
    )
    estimate = m.estimate or estimates.get(m.model_id)
    tied_with = [t for t in m.tied_with or [] if t != m.model_id]
    panel = m.panel or {}
    metrics = m.metrics
    return {
        "id": m.model_id,
        "name": m.name,
        "color": index % PALETTE_SIZE,
        "rank": m.rank,
        "status": status,
        "weighted": m.weighted_score if status == "scored" else None,
        "scores": {
            c: ({"score": m.scores[c].score, "reason": m.scores[c].reason} if c in m.scores else None) for c in criteria
        },
        "evidence": m.evidence or [],
        "output": m.output,
        "input_tokens": m.usage.input_tokens,
        "output_tokens": m.usage.output_tokens,
        "latency_ms": _float(m.latency_ms),
        "stop_reason": m.stop_reason,
        "cached": bool(m.cached),
        "cost": Unpriced() if m.unpriced else m.cost_usd,
        "error": {"name": m.error.error if m.error else "Error", "message": m.error.message if m.error else ""}
        if failed
        else None,
        "unscored_reason": m.unscored_reason
        or ("the judge did not score this answer" if status == "unscored" else None),
        "raw_judge_reply": m.raw_judge_reply,
        "tie": bool(m.tie) or bool(tied_with),
        "tied_with": [names.get(t, t) for t in tied_with],
        "panel": [{"judge": j, "score": s} for j, s in panel.items()],
        "panel_map": dict(panel),
        "metrics": {
            "words": metrics.word_count,
            "compression": metrics.compression_ratio,
            "rouge_l": metrics.rouge_l,
            "unsupported_numbers": metrics.unsupported_numbers,
            "unsupported_names": metrics.unsupported_names,
        }
        if metrics
        else None,
        "estimate": {
            "input_tokens": estimate.input_tokens,
            "output_tokens": estimate.output_tokens,
            "cost": estimate.cost_usd if estimate.cost_usd is not None else Unpriced(),
        }
        if estimate
        else None,
    }


def _wall_time(report: Report) -> tuple[float | None, bool]:
    """Seconds from request to report: measured when the run says so, else from the two timestamps."""
    if report.wall_time_seconds is not None:
        return report.wall_time_seconds, False
    try:
        start, end = datetime.fromisoformat(report.created_at), datetime.fromisoformat(report.reported_at)
    except ValueError:
        return None, False
    # reportedAt is kept to the second, createdAt is not: never show a negative duration.
    return max(0.0, (end - start).total_seconds()), True


def report_view(report: Report) -> dict[str, Any]:
    """Everything ``report.html.j2`` shows, by the names it uses."""
    criteria = [{"name": c.name, "weight": c.weight, "description": c.description} for c in report.criteria]
    names_list = [c["name"] for c in criteria]
    names = {m.model_id: m.name for m in report.models}
    estimates = candidate_estimates(report.estimate)
    models = [_model_view(i, m, names_list, names, estimates) for i, m in enumerate(report.models)]
    scored = sorted((m for m in models if m["status"] == "scored"), key=lambda m: m["rank"] or math.inf)
    totals = report.totals
    health = report.judge_health
    checks = health_rows(health)
    unpriced = set(totals.unpriced_models or [])
    judge_lines = [line for line in report.estimate.lines if line.role == "judge"]
    wall, derived = _wall_time(report)
    winner = scored[0] if scored else None
    runner_up = scored[1] if len(scored) > 1 else None
    judges = report.judge_model_ids
    panel_judges = list(dict.fromkeys(p["judge"] for m in models for p in m["panel"]))
    bedrock = [{"id": b.model_id, "name": b.name, "cost": b.cost_usd} for b in report.bedrock_equivalent or []]
    bedrock_costs = [b["cost"] for b in bedrock]
    panel_health = health.panel
    per_criterion = panel_health.per_criterion_mean if panel_health else {}
    pairwise = health.pairwise
    request = report.request.dump()
    return {
        "id": report.evaluation_id,
        "title": report.title or "Bakeoff report",
        "created": report.created_at,
        "reported": report.reported_at,
        "schema_version": report.schema_version,
        "prompt": report.prompt,
        "criteria": criteria,
        "judges": judges,
        "models": models,
        "winner": winner,
        "runner_up": runner_up,
        "margin": (winner["weighted"] - runner_up["weighted"]) if winner and runner_up else None,
        "totals": {
            "models": totals.models,
            "ok": totals.ok,
            "failed": totals.failed,
            "unscored": totals.unscored,
            "input_tokens": totals.input_tokens,
            "output_tokens": totals.output_tokens,
            "candidate_cost": _cost(totals.candidate_cost_usd, any(isinstance(m["cost"], Unpriced) for m in models)),
        },
        "failed_models": [m["name"] for m in models if m["status"] == "failed"],
        "unscored_models": [m["name"] for m in models if m["status"] == "unscored"],
        "total_cost": _cost(totals.total_cost_usd, bool(unpriced)),
        "judge_cost": _cost(totals.judge_cost_usd, any(j in unpriced for j in judges)),
        "estimated_cost": _cost(report.estimated_cost_usd, bool(report.estimate.unpriced)),
        "judge_estimate": {
            "input_tokens": sum(line.input_tokens for line in judge_lines),
            "output_tokens": sum(line.output_tokens for line in judge_lines),
            "calls": sum(line.calls for line in judge_lines),
            "cost": _cost(
                sum(line.cost_usd or 0.0 for line in judge_lines), any(line.cost_usd is None for line in judge_lines)
            ),
        }
        if judge_lines
        else None,
        "new_spend": totals.new_spend_usd,
        "judge_calls": report.judge_calls.dump() if report.judge_calls else {},
        "wall_time": wall,
        "wall_time_derived": derived,
        "warnings": report.warnings,
        "notices": report.notices,
        "checks": checks,
        "failed_checks": [c["label"] for c in checks if c["verdict"] == "fail"],
        "panel_judges": panel_judges,
        # perCriterionMean is {modelId: {criterion: mean over the judges}}; one row per model.
        "per_criterion_mean": [{"name": names.get(mid, mid), "means": means} for mid, means in per_criterion.items()]
        if per_criterion
        else None,
        "per_criterion_mad": dict(panel_health.per_criterion_mean_abs_diff) if panel_health else {},
        "pairwise": {"wins": pairwise.wins, "ties": pairwise.ties} if pairwise else None,
        "has_metrics": any(m["metrics"] for m in models),
        "has_ties": any(m["tie"] for m in models),
        "bedrock": bedrock,
        "bedrock_basis": report.bedrock_equivalent_basis,
        "bedrock_range": (min(bedrock_costs), max(bedrock_costs)) if bedrock_costs else None,
        "names": names,
        "charts": {
            "bars": bars_chart(models, names_list),
            "scatter": scatter_chart(models),
            "latency": latency_chart(models),
        },
        "request_json": json.dumps(request, indent=2, ensure_ascii=False),
        "article": report.request.article,
        "dataset": report.dataset.dump() if report.dataset else None,
        "arena": report.arena.dump() if report.arena else None,
        "repeats": report.repeats.dump() if report.repeats else None,
        "reference": reference_view(report.dump()),
        "pointwise_rank": {m.model_id: m.rank for m in report.models if m.rank is not None},
    }
