"""What this run itself spent, beside what its results cost.

A rerun that reuses checkpointed answers and verdicts pays nothing for them: the report still shows each
answer's cost (what the result is worth), and beside it ``newSpendUsd``, the money this run put on the
bill. That is also all that the run's ``CostUsd`` metric (and so the cost alarms) counted: a reused answer
emits no metric.
"""

from __future__ import annotations

from collections.abc import Sequence

from bakeoff.report import ModelEntry
from bakeoff.scores import JudgeCalls


def new_spend_usd(entries: Sequence[ModelEntry], judge_calls: JudgeCalls | None, judge_cost: float) -> float:
    """Candidate answers not taken from a checkpoint, plus the judge calls this run made."""
    # A dataset's entry sums many items, some reused: it carries what the new ones cost (newCostUsd).
    candidates = sum(
        e.new_cost_usd if e.new_cost_usd is not None else 0.0 if e.cached else e.cost_usd or 0.0 for e in entries
    )
    judging = judge_calls.new_spend_usd if judge_calls and judge_calls.new_spend_usd is not None else judge_cost
    return round(candidates + judging, 8)
