"""Preflight cost estimate (before any model is called) and actual cost (from Converse usage)."""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil
from typing import Annotated

from pydantic import Field

from bakeoff.catalog import estimate_tokens, load_catalog
from bakeoff.models import Contract, CostEstimate, EvaluationRequest, ModelEstimate, Usage
from bakeoff.quota import quota_concurrency

# Judge prompt overhead: rubric, instructions and tool schema, measured on the built-in prompt.
JUDGE_OVERHEAD_TOKENS = 450
JUDGE_TOKENS_PER_CRITERION = 120


def judge_max_tokens(criteria_count: int) -> int:
    """Output budget for one verdict: a score, a reason and evidence per criterion."""
    return 200 + JUDGE_TOKENS_PER_CRITERION * criteria_count


def cost_usd(model_id: str, usage: Usage) -> float:
    """What a call cost, cache reads and writes at their prices; 0.0 for an unpriced model (check
    ``priced`` before showing it as a price)."""
    info = load_catalog().get(model_id)
    return info.cost_usd(usage.input_tokens, usage.output_tokens, usage.cache_read, usage.cache_write) if info else 0.0


def uncached_cost_usd(model_id: str, usage: Usage) -> float:
    """What the same call would have cost without prompt caching: every input token at the input price."""
    info = load_catalog().get(model_id)
    return (
        info.cost_usd(usage.input_tokens + usage.cache_read + usage.cache_write, usage.output_tokens) if info else 0.0
    )


def judge_calls(request: EvaluationRequest) -> int:
    """Judge calls per judge: one per answer, one for the control answer, one per probe kind
    (``judgeProbes``), and in pairwise mode two per pair of answers (both orders), arena mode too.
    With ``repeats`` k, one more per answer for each repeat after the first (the control, probes and
    pairs are judged on repeat 1 only)."""
    n = len(request.models)
    calls = n * request.repeats + (1 if request.control_answer else 0) + len(request.probes)
    if request.compares_pairs:
        calls += n * (n - 1)
    return calls


def estimate(request: EvaluationRequest, judges: list[str]) -> CostEstimate:
    """Worst-case estimate: every candidate writes ``maxTokens`` (``repeats`` times); each judge reads every
    answer in full."""
    catalog = load_catalog()
    lines: list[ModelEstimate] = []
    for model_id in request.models:
        input_tokens = estimate_tokens(request.prompt, model_id) + estimate_tokens(request.article, model_id) + 10
        info = catalog.get(model_id)
        k = request.repeats
        cost = info.cost_usd(input_tokens * k, request.max_tokens * k) if info else None
        lines.append(
            ModelEstimate(
                model_id=model_id,
                role="candidate",
                calls=k,
                input_tokens=input_tokens * k,
                output_tokens=request.max_tokens * k,
                cost_usd=cost,
            )
        )
    criteria = len(request.scoring_criteria)
    calls = judge_calls(request)
    for judge_model_id in judges:
        # A pairwise call reads two answers; count every call at that size to stay on the safe side.
        answers_per_call = 2 if request.compares_pairs else 1
        # What every call shares (the judge reads the task prompt too), then the answer(s) at their cap.
        per_call_in = (
            judge_shared_tokens(request.article, request.prompt, criteria, judge_model_id)
            + request.max_tokens * answers_per_call
            # A reference answer is read with every answer.
            + estimate_tokens(request.reference or "", judge_model_id)
        )
        per_call_out = judge_max_tokens(criteria)
        info = catalog.get(judge_model_id)
        judge_cost = info.cost_usd(per_call_in * calls, per_call_out * calls) if info else None
        lines.append(
            ModelEstimate(
                model_id=judge_model_id,
                role="judge",
                calls=calls,
                input_tokens=per_call_in * calls,
                output_tokens=per_call_out * calls,
                cost_usd=judge_cost,
            )
        )
    return _total(lines)


def _total(lines: list[ModelEstimate]) -> CostEstimate:
    """The priced lines summed; the unpriced ones named, never counted as $0."""
    return CostEstimate(
        lines=lines,
        total_usd=round(sum(line.cost_usd or 0.0 for line in lines), 6),
        unpriced=list(dict.fromkeys(line.model_id for line in lines if line.cost_usd is None)),
    )


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
                merged[key] = old.model_copy(
                    update={
                        "calls": old.calls + line.calls,
                        "input_tokens": old.input_tokens + line.input_tokens,
                        "output_tokens": old.output_tokens + line.output_tokens,
                        "cost_usd": None
                        if old.cost_usd is None or line.cost_usd is None
                        else round(old.cost_usd + line.cost_usd, 8),
                    }
                )
            else:
                merged[key] = line
    return _total(list(merged.values()))


# --- the quote: a whole run's tokens, dollars, orchestration and time, before it starts -------------------


def judge_shared_tokens(article: str, task_prompt: str, criteria_count: int, judge_model_id: str) -> int:
    """What every judge call of one article shares (tool schema and rubric, article, task prompt): the prefix
    a prompt cache holds. The same terms as the judge's input in ``estimate``, without the answer."""
    return (
        estimate_tokens(article, judge_model_id)
        + estimate_tokens(task_prompt, judge_model_id)
        + JUDGE_OVERHEAD_TOKENS
        + JUDGE_TOKENS_PER_CRITERION * criteria_count
    )


# The evaluation's states (statemachine/evaluation.asl.json), entered once each on the happy path. Retries,
# catches and failed models add transitions; the quote leaves them out.
SINGLE_FIXED_STATES = 5  # Validate, SingleOrDataset, InvokeModels, Score, Report (+ one InvokeModel per model)
DATASET_PARENT_STATES = 4  # Validate, SingleOrDataset, EvaluateItems, ReportDataset
ITEM_FIXED_STATES = 3  # InvokeItemModels, ScoreItem, ItemDone (+ one InvokeModel per model)
EXPRESS_MEMORY_GB = 0.0625  # Express bills memory in 64 MB steps; a child holding small JSON uses the first


@dataclass(frozen=True)
class QuoteAssumptions:
    """What the quote cannot know from the request: the deployment's settings and how fast models write."""

    tokens_per_minute: int = 0  # Bedrock's quota per model (ModelTokensPerMinute); 0: not bounded by it
    dataset_max_concurrency: int = 20  # the Distributed Map's ceiling (DATASET_MAX_CONCURRENCY)
    map_max_concurrency: int = 5  # candidates of one item at once (MapMaxConcurrency; 0: all)
    judge_concurrency: int = 4  # judge calls at once in the score step (JUDGE_CONCURRENCY)
    lambda_memory_mb: int = 512  # template.yaml Globals MemorySize
    output_tokens_per_second: float = 50.0  # an assumed writing speed; the quote's times scale with it
    fixed_seconds_per_call: float = 1.0  # connection, first token, Lambda overhead per model call
    notes: list[str] = field(default_factory=list)


class Quote(Contract):
    """``bakeoff estimate``: what a request will cost and take on AWS, before any model is called."""

    items: int
    models: list[str]
    judges: list[str]
    estimate: CostEstimate
    input_tokens: int
    output_tokens: int
    on_demand_usd: float
    batch_usd: Annotated[float, Field(description="Candidates at batch prices (the judge stays on demand).")]
    cached_usd: Annotated[float, Field(description="On demand, with the judge's shared prefix cached.")]
    step_functions: dict[str, int | float]
    lambda_: Annotated[dict[str, int | float], Field(alias="lambda")]
    concurrency: int
    item_seconds: float
    wall_seconds: float
    wall_bound: str
    unpriced: list[str] = []
    assumptions: list[str]
    prices_as_of: str


def quote(
    request: EvaluationRequest, judges: list[str], articles: list[str], assume: QuoteAssumptions = QuoteAssumptions()
) -> Quote:
    """The whole run: tokens (the worst-case estimate), its dollars on demand, with candidates in batch, and with
    the judge's prompt cache; Step Functions transitions for Standard and Express children, Lambda GB-seconds,
    and the wall time under the quota. ``articles``: one per item (a single-article request: its article)."""
    catalog = load_catalog()
    prices = catalog.orchestration
    if prices is None:
        raise ValueError("the catalog has no orchestration prices (models.json: orchestration)")
    dataset = request.dataset is not None
    items = len(articles)
    by_article: dict[str, CostEstimate] = {}  # a dataset's repeated articles are estimated once
    per_item = [
        by_article.get(a) or by_article.setdefault(a, estimate(request.model_copy(update={"article": a}), judges))
        for a in articles
    ]
    cost = combine_estimates(per_item) if dataset else per_item[0]
    # Every repeat is one more candidate call (a Map iteration and a Lambda invocation) per model and item.
    m, criteria = len(request.models) * request.repeats, len(request.scoring_criteria)
    calls = judge_calls(request)

    batch = cached = 0.0
    for line in cost.lines:
        info = catalog.get(line.model_id)
        if info is None:
            continue
        on_demand = line.cost_usd or 0.0
        batch += info.batch_cost_usd(line.input_tokens, line.output_tokens) if line.role == "candidate" else on_demand
        if line.role == "judge" and info.prompt_caching and calls > 1:
            # Per item: the first call writes the shared prefix, the others read it; the rest is plain input.
            shared = [judge_shared_tokens(a, request.prompt, criteria, line.model_id) for a in articles]
            # (identical articles: the same prefix, cached in each item all the same: items do not share a cache)
            cacheable = [s for s in shared if s >= (info.cache_min_tokens or 0)]
            written, read = sum(cacheable), sum(cacheable) * (calls - 1)
            cached += info.cost_usd(line.input_tokens - written - read, line.output_tokens, read, written)
        else:
            cached += on_demand

    # Time: candidates of an item write in parallel (up to MapMaxConcurrency), then the judge's calls.
    speed, fixed = assume.output_tokens_per_second, assume.fixed_seconds_per_call
    candidate_seconds = fixed + request.max_tokens / speed
    waves = ceil(m / assume.map_max_concurrency) if assume.map_max_concurrency else 1
    judge_seconds = ceil(calls * len(judges) / assume.judge_concurrency) * (fixed + judge_max_tokens(criteria) / speed)
    item_seconds = waves * candidate_seconds + judge_seconds
    ceiling = min(assume.dataset_max_concurrency, prices.distributed_map_max_parallel, items) if dataset else 1
    concurrency = quota_concurrency(cost, items, tokens_per_minute=assume.tokens_per_minute, ceiling=ceiling)
    by_concurrency = ceil(items / concurrency) * item_seconds
    reserved = {}
    for line in cost.lines:
        reserved[line.model_id] = reserved.get(line.model_id, 0) + line.input_tokens + line.output_tokens
    by_quota = max(reserved.values()) / assume.tokens_per_minute * 60 if assume.tokens_per_minute else 0.0
    wall = max(by_concurrency, by_quota)

    # Orchestration. Lambda: Validate and Report once, then per item one InvokeModel per model and one Score.
    invocations = 2 + items * (m + 1)
    gb = assume.lambda_memory_mb / 1024
    gb_seconds = gb * (2 * fixed + items * (m * candidate_seconds + judge_seconds))
    lambda_usd = (
        invocations * prices.lambda_per_million_requests_usd / 1e6 + gb_seconds * prices.lambda_per_gb_second_usd
    )
    if dataset:
        child_transitions = items * (m + ITEM_FIXED_STATES)
        standard = DATASET_PARENT_STATES + child_transitions
        express_requests, express_gb_seconds = items, items * EXPRESS_MEMORY_GB * item_seconds
    else:
        standard = SINGLE_FIXED_STATES + m
        express_requests, express_gb_seconds = 0, 0.0
    per_transition = prices.standard_per_1k_transitions_usd / 1000
    step_functions = {
        "standardTransitions": standard,
        "standardUsd": round(standard * per_transition, 6),
        # Express children: the parent's own transitions stay Standard; each item is one Express request.
        "expressParentTransitions": DATASET_PARENT_STATES if dataset else standard,
        "expressRequests": express_requests,
        "expressGbSeconds": round(express_gb_seconds, 3),
        "expressUsd": round(
            (DATASET_PARENT_STATES if dataset else standard) * per_transition
            + express_requests * prices.express_per_million_requests_usd / 1e6
            + express_gb_seconds * prices.express_per_gb_second_usd,
            6,
        ),
    }
    assumptions = [
        f"every candidate writes maxTokens ({request.max_tokens}) and the judge its whole verdict cap; "
        "token counts are the preflight estimate (characters per token per family)",
        f"models write {speed:g} output tokens/s plus {fixed:g} s per call (an assumption: --tokens-per-second)",
        f"{concurrency} item(s) at once (DatasetMaxConcurrency {assume.dataset_max_concurrency}, Distributed Map "
        f"limit {prices.distributed_map_max_parallel:,}"
        + (
            f", quota {assume.tokens_per_minute:,} tokens/min per model)"
            if assume.tokens_per_minute
            else ", no tokens-per-minute quota given)"
        ),
        f"Lambda at {assume.lambda_memory_mb} MB; Express children at {EXPRESS_MEMORY_GB * 1024:g} MB; no free tier; "
        "no retries",
        "batch: candidates at the catalog's batch prices (else 50% of on-demand), the judge on demand",
        *assume.notes,
    ]
    return Quote(
        items=items,
        models=request.models,
        judges=judges,
        estimate=cost,
        input_tokens=sum(line.input_tokens for line in cost.lines),
        output_tokens=sum(line.output_tokens for line in cost.lines),
        on_demand_usd=round(cost.total_usd, 6),
        batch_usd=round(batch, 6),
        cached_usd=round(cached, 6),
        step_functions=step_functions,
        lambda_={"invocations": invocations, "gbSeconds": round(gb_seconds, 3), "usd": round(lambda_usd, 6)},
        concurrency=concurrency,
        item_seconds=round(item_seconds, 3),
        wall_seconds=round(wall, 1),
        wall_bound="quota" if by_quota > by_concurrency else "concurrency",
        unpriced=cost.unpriced,
        assumptions=assumptions,
        prices_as_of=prices.as_of,
    )
