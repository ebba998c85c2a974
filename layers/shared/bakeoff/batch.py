"""Bedrock batch inference for a dataset's candidate answers (``inference: "batch"``): the request side.

The candidates' answers to every item go through one batch inference job per model
(``CreateModelInvocationJob`` with ``modelInvocationType: Converse``) instead of one Converse call each:
billed at batch rates (half of on-demand unless the catalog says otherwise), at the cost of waiting for the
job. This module is what Validate and the reports need: the request check (a job needs
``BATCH_MIN_RECORDS`` records: below that, refuse or fall back to on-demand, as ``batchFallback`` says)
and prices at batch rates. The JSONL records and the jobs' outcomes are in ``bakeoff.batch_records``; it
pulls in botocore, which validation does without.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from bakeoff.catalog import load_catalog
from bakeoff.models import CostEstimate, EvaluationRequest, Usage

# Bedrock's quota "Minimum number of records per batch inference job" (its default, the same for the models
# in the catalog as of 2025): a job with fewer records is refused by CreateModelInvocationJob.
BATCH_MIN_RECORDS = 100
# Statuses after which a job writes nothing more (GetModelInvocationJob's ``status``).
TERMINAL_STATUSES = frozenset({"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"})


# --- the request ------------------------------------------------------------------------------


def batch_mode(
    request: EvaluationRequest, items: int | None
) -> tuple[Literal["batch"] | None, list[dict[str, str]], list[str]]:
    """How this request's candidates answer: ``("batch" | None, field errors, warnings)``.

    ``items`` is the dataset's size (None before the dataset is read: the preflight checks the request
    alone). Every model gets one record per item, so the dataset's size is each job's size.
    """
    if request.inference != "batch":
        return None, [], []
    if request.dataset is None:
        return (
            None,
            [
                {
                    "field": "inference",
                    "message": "batch inference answers a dataset (at least "
                    f"{BATCH_MIN_RECORDS} items) through one Bedrock batch job per model; for one article "
                    'leave inference at "on-demand"',
                }
            ],
            [],
        )
    catalog = load_catalog()
    errors = [
        {
            "field": f"models[{i}]",
            "message": f"{model_id} does not support Bedrock batch inference (catalog); "
            'use another model, or inference "on-demand"',
        }
        for i, model_id in enumerate(request.models)
        if (info := catalog.get(model_id)) is not None and info.batch_inference is False
    ]
    # The batch jobs' service role may run base models only (template.yaml, BatchInferenceRole).
    errors += [
        {
            "field": f"models[{i}]",
            "message": f"{model_id} is an inference profile; batch jobs here run on "
            f"base model IDs: use {catalog.unprefixed(model_id)}",
        }
        for i, model_id in enumerate(request.models)
        if catalog.unprefixed(model_id) != model_id
    ]
    if errors or items is None or items >= BATCH_MIN_RECORDS:
        return (None if errors else "batch"), errors, []
    if request.batch_fallback == "on-demand":
        return (
            None,
            [],
            [
                f"the dataset has {items} items, fewer than the {BATCH_MIN_RECORDS} records a Bedrock "
                "batch job needs per model: its answers are asked on-demand, at on-demand prices "
                '(batchFallback: "on-demand")'
            ],
        )
    return (
        None,
        [
            {
                "field": "inference",
                "message": f"a Bedrock batch job needs at least {BATCH_MIN_RECORDS} "
                f"records per model, and this dataset has {items} item(s) (one record per item and model). "
                f'Add items up to {BATCH_MIN_RECORDS}, set batchFallback: "on-demand" to run it on-demand at '
                'on-demand prices, or leave inference at "on-demand"',
            }
        ],
        [],
    )


def candidate_cost_usd(model_id: str, usage: Usage, inference: str | None) -> float:
    """What a candidate's answer cost: at batch rates when a batch job made it; 0.0 when unpriced."""
    info = load_catalog().get(model_id)
    if info is None:
        return 0.0
    if inference == "batch":
        return info.batch_cost_usd(usage.input_tokens, usage.output_tokens)
    return info.cost_usd(usage.input_tokens, usage.output_tokens)


def at_batch_rates(estimate: CostEstimate) -> CostEstimate:
    """The estimate with its candidate lines priced at batch rates (the judge stays on-demand)."""
    catalog = load_catalog()
    lines = []
    for line in estimate.lines:
        info = catalog.get(line.model_id)
        if line.role == "candidate" and info is not None:
            line = line.model_copy(update={"cost_usd": info.batch_cost_usd(line.input_tokens, line.output_tokens)})
        lines.append(line)
    total = sum((Decimal(str(line.cost_usd)) for line in lines if line.cost_usd is not None), Decimal(0))
    return estimate.model_copy(update={"lines": lines, "total_usd": float(round(total, 6))})
