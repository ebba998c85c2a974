"""What the reports say of answers made by Bedrock batch inference jobs: their cost at batch rates, what the
same answers would have cost on-demand, and a notice saying so."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bakeoff.batch import candidate_cost_usd
from bakeoff.estimate import priced
from bakeoff.models import Usage
from bakeoff.report import DatasetRow, ModelEntry


def model_cost_fields(model_id: str, rows: Sequence[DatasetRow]) -> dict[str, Any]:
    """``costUsd`` of a model's answers in a dataset, each at its own rate (batch or on-demand); with batch
    answers also ``inference: batch``, ``batchAnswers`` and ``onDemandCostUsd`` (the same tokens on-demand)."""
    usage = sum((r.usage or Usage() for r in rows), Usage())
    if not priced(model_id):
        return {"cost_usd": None, "unpriced": True}
    batch = [r for r in rows if r.inference == "batch"]
    batch_usage = sum((r.usage or Usage() for r in batch), Usage())
    rest = Usage(
        input_tokens=usage.input_tokens - batch_usage.input_tokens,
        output_tokens=usage.output_tokens - batch_usage.output_tokens,
    )
    cost = round(candidate_cost_usd(model_id, rest, None) + candidate_cost_usd(model_id, batch_usage, "batch"), 8)
    if not batch:
        return {"cost_usd": cost}
    return {
        "cost_usd": cost,
        "inference": "batch",
        "batch_answers": len(batch),
        "on_demand_cost_usd": candidate_cost_usd(model_id, usage, None),
    }


def batch_notice(entries: Sequence[ModelEntry]) -> str | None:
    """One line for the report's notices when any answer came from a batch job, with what it saved."""
    batch = [e for e in entries if e.inference == "batch" and e.cost_usd is not None]
    if not batch:
        return None
    answers = sum(e.batch_answers or 1 for e in batch)
    cost = sum(e.cost_usd or 0.0 for e in batch)
    on_demand = sum(e.on_demand_cost_usd if e.on_demand_cost_usd is not None else (e.cost_usd or 0.0) for e in batch)
    return (
        f"{answers} answer(s) of {', '.join(e.model_id for e in batch)} came from Bedrock batch inference "
        f"jobs and are priced at batch rates: ${cost:.4f}, against ${on_demand:.4f} for the same tokens "
        "on-demand. The judge ran on-demand (forced tool use is not available in batch)."
    )
