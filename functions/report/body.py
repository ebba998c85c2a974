"""What every report is made of, single article or dataset: costs, the ranking and totals, and the
header around them (the request, the estimate, notices, timing). Both builders end in ``assemble``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bakeoff.arena import ArenaSection
from bakeoff.batch import candidate_cost_usd
from bakeoff.catalog import load_catalog
from bakeoff.errors import parse_cause
from bakeoff.estimate import cost_usd, priced
from bakeoff.judge_health import JudgeHealth
from bakeoff.models import Evaluation, Usage
from bakeoff.repeats import RepeatsSection
from bakeoff.report import (
    SCHEMA_VERSION,
    BedrockEquivalentRow,
    DatasetSection,
    ErrorNote,
    ModelEntry,
    Report,
    Totals,
)
from bakeoff.scores import JudgeCalls
from functions.report.batch import batch_notice
from functions.report.spend import new_spend_usd


def readable_error(error: str, raw: str) -> ErrorNote:
    """The Catch gives ``{Error, Cause}`` where Cause is the Lambda's error JSON: unwrap it for people."""
    details = parse_cause(raw)
    message = details.get("message", raw) if details else raw
    return ErrorNote(error=error, message=str(message)[:2000])


def cost_fields(model_id: str, usage: Usage, inference: str | None = None) -> dict[str, Any]:
    """``costUsd`` of a model's calls; for a model without a price ``None`` and ``unpriced``: its cost is
    unknown, and a report that showed $0.00 would be wrong by an unknown amount. An answer a batch job made
    (reused from its checkpoint) costs what it cost then: batch rates."""
    if priced(model_id) and inference == "batch":
        return {
            "cost_usd": candidate_cost_usd(model_id, usage, "batch"),
            "inference": "batch",
            "on_demand_cost_usd": cost_usd(model_id, usage),
        }
    if priced(model_id):
        return {"cost_usd": cost_usd(model_id, usage)}
    return {"cost_usd": None, "unpriced": True}


def rank(entries: list[ModelEntry]) -> None:
    """Number the scored entries 1, 2, ... in their (leaderboard) order."""
    for place, entry in enumerate((e for e in entries if e.weighted_score is not None), start=1):
        entry.rank = place


def totals_of(entries: Sequence[ModelEntry], *, unscored: int, judge_cost: float, **extra: Any) -> Totals:
    """Counts, candidate tokens and every cost, over the (ranked) entries."""
    candidate_cost = round(sum(e.cost_usd or 0.0 for e in entries), 8)
    return Totals(
        models=len(entries),
        ok=sum(e.status == "ok" for e in entries),
        failed=sum(e.status == "failed" for e in entries),
        scored=sum(e.score_status == "scored" for e in entries),
        unscored=unscored,
        input_tokens=sum(e.usage.input_tokens for e in entries),
        output_tokens=sum(e.usage.output_tokens for e in entries),
        candidate_cost_usd=candidate_cost,
        judge_cost_usd=judge_cost,
        total_cost_usd=round(candidate_cost + judge_cost, 8),
        **extra,
    )


def unscored_rate(unscored: int, judged: int) -> float | None:
    return round(unscored / judged, 4) if judged else None


def assemble(
    evaluation: Evaluation,
    *,
    entries: list[ModelEntry],
    totals: Totals,
    judge_health: JudgeHealth,
    judge_usage: Usage,
    judge_calls: JudgeCalls | None = None,
    judge_model_ids: list[str],
    notices: Sequence[str] = (),
    judge_failure: ErrorNote | None = None,
    dataset: DatasetSection | None = None,
    arena: ArenaSection | None = None,
    repeats: RepeatsSection | None = None,
) -> Report:
    """The report: the ranked entries and their totals inside what every report carries (the request,
    the estimate, notices, timing). ``notices`` come first, before the ones every run may get."""
    catalog = load_catalog()
    request = evaluation.request
    notices = list(notices)
    unpriced = [m for m in dict.fromkeys([*request.models, *evaluation.judge_model_ids]) if not priced(m)]
    if unpriced:
        totals.unpriced_models = unpriced
        notices.append(
            f"No price is known for {', '.join(unpriced)} (allowUnpriced): their cost is unknown and "
            "shown as unpriced; every total here counts the priced models only."
        )
    local = [m for m in [*request.models, *evaluation.judge_model_ids] if (info := catalog.get(m)) and info.local]
    if local:
        notices.append(
            "Local models ran here (" + ", ".join(sorted(set(local))) + "). They are tiny (135M-1.5B "
            "parameters): their answers and, above all, their judgments are weak. This run shows the "
            "workflow, not which Bedrock model is best; check the judge health below before trusting "
            "any ranking."
        )
    if cut := cut_off_notice(entries, request.max_tokens):
        notices.append(cut)
    totals.new_spend_usd = new_spend_usd(entries, judge_calls, totals.judge_cost_usd)
    if batched := batch_notice(entries):
        notices.append(batched)
    reported_at = datetime.now(UTC)
    try:
        wall = round((reported_at - datetime.fromisoformat(evaluation.created_at)).total_seconds(), 1)
    except ValueError:
        wall = None
    ranked = [e for e in entries if e.rank is not None]
    return Report(
        schema_version=SCHEMA_VERSION,
        evaluation_id=evaluation.evaluation_id,
        created_at=evaluation.created_at,
        reported_at=reported_at.isoformat(timespec="seconds"),
        wall_time_seconds=wall,
        title=request.title,
        judge_model_id=evaluation.judge_model_id,
        judge_model_ids=judge_model_ids,
        criteria=evaluation.criteria,
        prompt=request.prompt,
        **({"reference": evaluation.reference_answer} if evaluation.reference_answer is not None else {}),
        warnings=evaluation.warnings,
        notices=notices,
        estimated_cost_usd=evaluation.estimate.total_usd,
        estimate=evaluation.estimate,
        **(bedrock_equivalent(totals, judge_usage) if local else {}),
        models=entries,
        ranking=[e.model_id for e in ranked],
        winner=entries[0].model_id if entries and entries[0].rank is not None else None,
        totals=totals,
        judge_cost_usd=totals.judge_cost_usd,
        total_cost_usd=totals.total_cost_usd,
        judge_health=judge_health,
        **({"judge_calls": judge_calls} if judge_calls else {}),
        **({"judge_failure": judge_failure} if judge_failure else {}),
        **({"dataset": dataset} if dataset else {}),
        **({"arena": arena} if arena else {}),
        **({"repeats": repeats} if repeats else {}),
        request=request,
    )


def bedrock_equivalent(totals: Totals, judge_usage: Usage) -> dict[str, Any]:
    """What this run's tokens would cost on each Bedrock model in the catalog: a stated stand-in for
    local runs, whose own cost is $0. Every call's tokens (candidates and judge) priced at one model."""
    tokens_in = totals.input_tokens + judge_usage.input_tokens
    tokens_out = totals.output_tokens + judge_usage.output_tokens
    rows = sorted(
        (
            BedrockEquivalentRow(model_id=m.model_id, name=m.name, cost_usd=m.cost_usd(tokens_in, tokens_out))
            for m in load_catalog().models
            if not m.local
        ),
        key=lambda r: r.cost_usd,
    )
    basis = (
        f"{tokens_in:,} input and {tokens_out:,} output tokens (all candidate and judge calls of this run, "
        "counted by the local models' tokenizers) priced at each Bedrock model's on-demand rate; real "
        "Bedrock tokenizers count somewhat differently."
    )
    return {"bedrock_equivalent": rows, "bedrock_equivalent_basis": basis}


def cut_off_notice(entries: Sequence[ModelEntry], max_tokens: int) -> str | None:
    """One line naming the answers that stopped at the output limit. Such an answer usually ends
    mid-sentence, and judges often score a cut-off answer low on every criterion (the 1.5B local judge gave
    1/10 to one that got 10/10 once cut at its last full stop; other times it let one pass): the ranking may
    then say who stops in time, not who answers best. Only the stop reason tells, so it is said here."""
    cut = [e.name or e.model_id for e in entries if e.status == "ok" and e.stop_reason == "max_tokens"]
    if not cut:
        return None
    return (
        f"{', '.join(cut)} stopped at the output limit (maxTokens {max_tokens}), so "
        f"{'its answer is' if len(cut) == 1 else 'their answers are'} probably cut off mid-sentence. Judges often "
        "score a cut-off answer low, so the ranking may say who stopped in time rather than who answered best: "
        "raise maxTokens, or ask for a shorter answer, to compare complete answers."
    )
