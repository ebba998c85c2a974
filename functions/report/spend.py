"""What this run itself spent, beside what its results cost.

A rerun that reuses checkpointed answers and verdicts pays nothing for them: the report still shows each
answer's cost (what the result is worth), and beside it ``newSpendUsd``, the money this run put on the
bill. That is also all that the run's ``CostUsd`` metric (and so the cost alarms) counted: a reused answer
emits no metric.
"""

from __future__ import annotations

from typing import Any


def new_spend_usd(entries: list[dict[str, Any]], judge_calls: dict[str, Any] | None, judge_cost: float) -> float:
    """Candidate answers not taken from a checkpoint, plus the judge calls this run made."""
    # A dataset's entry sums many items, some reused: it carries what the new ones cost (newCostUsd).
    candidates = sum(e["newCostUsd"] if "newCostUsd" in e else 0.0 if e.get("cached") else e.get("costUsd") or 0.0
                     for e in entries)
    judging = judge_calls.get("newSpendUsd", judge_cost) if judge_calls else judge_cost
    return round(candidates + judging, 8)
