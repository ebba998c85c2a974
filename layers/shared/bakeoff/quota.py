"""Concurrency from the Bedrock quota: how many dataset items may run at once without being throttled.

Bedrock limits each model's on-demand tokens per minute, and a Converse call reserves its input plus its
``maxTokens`` against that quota when it starts (the unused part is given back when it ends). A Distributed
Map at a fixed concurrency simply throttles once the items in flight reserve more than the quota; the
adaptive back-off (the ASL's Retry on ``ModelThrottledError``) then spends the time. So the dataset Map's
``MaxConcurrency`` is derived instead: the items in flight may reserve at most one minute's quota of the
model that reserves the most per item. That assumes an item's calls take up to a minute; faster calls leave
quota unused, and throttling stays handled by the Retry as before.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bakeoff.models import CostEstimate


def reserved_per_item(estimate: CostEstimate, items: int) -> dict[str, int]:
    """Tokens each model reserves for one item: its calls' input plus their output caps.

    The estimate's lines are exactly that (a candidate's output is its ``maxTokens``, a judge's its verdict
    cap), summed over the items; a model in two roles reserves both."""
    per_model: dict[str, int] = {}
    for line in estimate.lines:
        per_model[line.model_id] = per_model.get(line.model_id, 0) + line.input_tokens + line.output_tokens
    return {model: math.ceil(tokens / max(1, items)) for model, tokens in per_model.items()}


def quota_concurrency(estimate: CostEstimate, items: int, *, tokens_per_minute: int, ceiling: int) -> int:
    """Items at once: ``ceiling`` bounded by ``tokens_per_minute`` (0: no quota given) over the largest
    reservation of one item, and never below 1 (an item over the quota alone still runs, and throttles)."""
    if tokens_per_minute <= 0:
        return ceiling
    heaviest = max(reserved_per_item(estimate, items).values(), default=0)
    if heaviest <= 0:
        return ceiling
    return max(1, min(ceiling, tokens_per_minute // heaviest))
