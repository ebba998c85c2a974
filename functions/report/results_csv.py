"""``results.csv``: one row per model of a ``Report``, in leaderboard order, for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from bakeoff.report import Report, candidate_estimates


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
    return [
        "evaluationId",
        "rank",
        "modelId",
        "name",
        "status",
        "scoreStatus",
        "weightedScore",
        "tie",
        "tiedWith",
        *(f"score_{c}" for c in criteria),
        "inputTokens",
        "outputTokens",
        "latencyMs",
        "costUsd",
        "judgeCostUsd",
        "estimatedInputTokens",
        "estimatedOutputTokens",
        "estimatedCostUsd",
        "wordCount",
        "compressionRatio",
        "rougeL",
        "unsupportedNumbers",
        "unsupportedNames",
        "unscoredReason",
        "error",
        "errorMessage",
        "judgeHealth",
        "judgeHealthChecks",
    ]


def render_csv(report: Report) -> str:
    """``results.csv``: one row per model, in leaderboard order. Unscored and failed models have empty
    score cells, never 0; list fields (unsupported numbers and names) are counted, not listed. The run's
    judge health (its verdict, and every check's grade) is repeated on each row, so a filtered sheet
    still carries it."""
    criteria = [c.name for c in report.criteria]
    estimates = candidate_estimates(report.estimate)
    health = report.judge_health
    checks = [f"{name}={grade}" for name, grade in health.checks.items()]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_columns(criteria))
    for m in report.models:
        metrics, error = m.metrics, m.error
        estimate = m.estimate or estimates.get(m.model_id)
        writer.writerow(
            _cell(v)
            for v in [
                report.evaluation_id,
                m.rank,
                m.model_id,
                m.name,
                m.status,
                m.score_status,
                m.weighted_score,
                bool(m.tie or m.tied_with),
                m.tied_with or None,
                *(m.scores[c].score if c in m.scores else None for c in criteria),
                m.usage.input_tokens,
                m.usage.output_tokens,
                m.latency_ms,
                "unpriced" if m.unpriced else m.cost_usd,
                m.judge_cost_usd,
                estimate.input_tokens if estimate else None,
                estimate.output_tokens if estimate else None,
                estimate.cost_usd if estimate else None,
                metrics.word_count if metrics else None,
                metrics.compression_ratio if metrics else None,
                metrics.rouge_l if metrics else None,
                len(metrics.unsupported_numbers) if metrics else None,
                len(metrics.unsupported_names) if metrics else None,
                m.unscored_reason,
                error.error if error else None,
                error.message if error else None,
                health.verdict,
                checks,
            ]
        )
    return buffer.getvalue()
