"""Preflight cost estimate (before any model is called) and actual cost (from Converse usage)."""

from __future__ import annotations

from bakeoff.catalog import estimate_tokens, load_catalog
from bakeoff.models import CostEstimate, EvaluationRequest, ModelEstimate, Usage

# Judge prompt overhead: rubric, instructions and tool schema, measured on the built-in prompt.
JUDGE_OVERHEAD_TOKENS = 450
JUDGE_TOKENS_PER_CRITERION = 120


def judge_max_tokens(criteria_count: int) -> int:
    """Output budget for one verdict: a score, a reason and evidence per criterion."""
    return 200 + JUDGE_TOKENS_PER_CRITERION * criteria_count


def cost_usd(model_id: str, usage: Usage) -> float:
    """What a call cost; 0.0 for an unpriced model (check ``priced`` before showing it as a price)."""
    info = load_catalog().get(model_id)
    return info.cost_usd(usage.input_tokens, usage.output_tokens) if info else 0.0


def judge_calls(request: EvaluationRequest) -> int:
    """Judge calls per judge: one per answer, one for the control answer, one per probe kind
    (``judgeProbes``), and in pairwise mode two per pair of answers (both orders)."""
    n = len(request.models)
    calls = n + (1 if request.control_answer else 0) + len(request.probes)
    if request.mode == "pairwise":
        calls += n * (n - 1)
    return calls


def estimate(request: EvaluationRequest, judges: list[str]) -> CostEstimate:
    """Worst-case estimate: every candidate writes ``maxTokens``; each judge reads every answer in full."""
    catalog = load_catalog()
    lines: list[ModelEstimate] = []
    for model_id in request.models:
        input_tokens = estimate_tokens(request.prompt, model_id) + estimate_tokens(request.article, model_id) + 10
        info = catalog.get(model_id)
        cost = info.cost_usd(input_tokens, request.max_tokens) if info else None
        lines.append(ModelEstimate(model_id=model_id, role="candidate", calls=1, input_tokens=input_tokens,
                                   output_tokens=request.max_tokens, cost_usd=cost))
    criteria = len(request.scoring_criteria)
    calls = judge_calls(request)
    for judge_model_id in judges:
        # A pairwise call reads two answers; count every call at that size to stay on the safe side.
        answers_per_call = 2 if request.mode == "pairwise" else 1
        # A reference answer is read with every answer.
        per_call_in = (estimate_tokens(request.article, judge_model_id) + request.max_tokens * answers_per_call
                       + estimate_tokens(request.reference or "", judge_model_id)
                       + JUDGE_OVERHEAD_TOKENS + JUDGE_TOKENS_PER_CRITERION * criteria)
        per_call_out = judge_max_tokens(criteria)
        info = catalog.get(judge_model_id)
        judge_cost = info.cost_usd(per_call_in * calls, per_call_out * calls) if info else None
        lines.append(ModelEstimate(model_id=judge_model_id, role="judge", calls=calls,
                                   input_tokens=per_call_in * calls, output_tokens=per_call_out * calls,
                                   cost_usd=judge_cost))
    return _total(lines)


def _total(lines: list[ModelEstimate]) -> CostEstimate:
    """The priced lines summed; the unpriced ones named, never counted as $0."""
    return CostEstimate(lines=lines, total_usd=round(sum(line.cost_usd or 0.0 for line in lines), 6),
                        unpriced=list(dict.fromkeys(line.model_id for line in lines if line.cost_usd is None)))


def priced(model_id: str) -> bool:
    """The catalog has a price for this model (or its inference profile's base model)."""
    return load_catalog().get(model_id) is not None


def combine_estimates(parts: list[CostEstimate]) -> CostEstimate:
    """One estimate for many items: the lines of each model summed."""
    merged: dict[tuple[str, str], ModelEstimate] = {}
    for part in parts:
        for line in part.lines:
            key = (line.model_id, line.role)
            if key in merged:
                old = merged[key]
                merged[key] = old.model_copy(update={
                    "calls": old.calls + line.calls, "input_tokens": old.input_tokens + line.input_tokens,
                    "output_tokens": old.output_tokens + line.output_tokens,
                    "cost_usd": None if old.cost_usd is None or line.cost_usd is None
                    else round(old.cost_usd + line.cost_usd, 8)})
            else:
                merged[key] = line
    return _total(list(merged.values()))
