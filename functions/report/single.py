"""The report of one article: every branch result with its answer, verdict, cost and the judge's health."""

from __future__ import annotations

from bakeoff.arena import arena_from_scores
from bakeoff.catalog import load_catalog
from bakeoff.errors import parse_cause
from bakeoff.evaluations import load_evaluation
from bakeoff.judge_health import JudgeHealth
from bakeoff.models import Answer, JudgeFailure, ModelResult, ReportInput, Usage
from bakeoff.report import EntryEstimate, ErrorNote, ModelEntry, Report, candidate_estimates
from bakeoff.scores import ModelScores, ScoresDocument
from bakeoff.storage import Store
from functions.report.body import assemble, cost_fields, rank, readable_error, totals_of, unscored_rate
from functions.report.repeats_view import fold_single, repeats_section, split

# What the score step adds to a verdict and the report shows as it is, when the score step wrote it.
_PASSED_ON = ("panel", "metrics", "tied_with", "tie")


def _billed_usage_of_failure(result: ModelResult) -> Usage:
    """A failure after the model answered (an empty reply) was still billed: its usage rides in the Cause."""
    details = parse_cause(result.error.cause) if result.error else None
    try:
        return Usage.model_validate((details or {}).get("usage") or {})
    except ValueError:
        return Usage()


def _error_note(result: ModelResult) -> ErrorNote:
    if result.error is None:
        return ErrorNote(error="Unknown", message="")
    return readable_error(result.error.error, result.error.cause)


def _judged(scores: ModelScores) -> dict[str, object]:
    """An answer's entry fields from its verdict (a panel's combined verdict)."""
    fields: dict[str, object] = {
        "score_status": scores.status,
        "scores": scores.scores,
        "evidence": scores.evidence,
        "weighted_score": scores.weighted_score,
        "judge_usage": scores.usage,
        "judge_cost_usd": scores.judge_cost_usd,
        "judge_cached": scores.cached,
        **{name: getattr(scores, name) for name in _PASSED_ON if name in scores.model_fields_set},
    }
    if scores.status == "unscored":
        fields |= {"unscored_reason": scores.reason, "raw_judge_reply": scores.raw_reply}
    return fields


def _entry(
    result: ModelResult,
    *,
    name: str,
    estimate: EntryEstimate | None,
    scores: ModelScores | None,
    judge_failure: ErrorNote | None,
    store: Store,
) -> ModelEntry:
    base: dict[str, object] = {"model_id": result.model_id, "name": name, "status": result.status}
    if estimate:
        base["estimate"] = estimate
    if result.status != "ok":
        billed = _billed_usage_of_failure(result)
        return ModelEntry(
            **base,
            output=None,
            usage=billed,
            latency_ms=None,
            score_status="not judged",
            scores={},
            weighted_score=None,
            **cost_fields(result.model_id, billed),
            error=_error_note(result),
        )
    answer = Answer.model_validate(store.get_checkpoint(result.answer_key))
    base |= {
        "output": answer.text,
        "usage": answer.usage,
        "latency_ms": answer.latency_ms,
        "stop_reason": answer.stop_reason,
        "cached": result.cached,
        **cost_fields(result.model_id, answer.usage, inference=answer.inference),
    }
    if scores is not None:
        return ModelEntry(**base, **_judged(scores))
    if judge_failure:
        return ModelEntry(
            **base,
            score_status="not judged",
            scores={},
            weighted_score=None,
            unscored_reason=f"the judge failed: {judge_failure.error}: {judge_failure.message[:300]}",
        )
    return ModelEntry(
        **base, score_status="unscored", unscored_reason="no verdict was recorded", scores={}, weighted_score=None
    )


def build_single_report(task: ReportInput, store: Store) -> Report:
    evaluation = load_evaluation(store, task.evaluation_id)
    catalog = load_catalog()
    scoring = task.scoring
    judge_failure = readable_error(scoring.error, scoring.cause) if isinstance(scoring, JudgeFailure) else None
    # A failed judge leaves no scores.json; the answers, their usage and cost are reported all the same.
    doc = (
        ScoresDocument.model_validate(store.require_json(scoring.scores_key))
        if scoring is not None and not judge_failure
        else None
    )
    estimates = candidate_estimates(evaluation.estimate)
    entries = []
    results, extras = split(task.results)  # repeat 1 is the entry; repeats 2..k fold into it
    for result in results:
        info = catalog.get(result.model_id)
        entries.append(
            _entry(
                result,
                name=info.name if info else result.model_id,
                estimate=estimates.get(result.model_id),
                scores=doc.models.get(result.model_id) if doc else None,
                judge_failure=judge_failure,
                store=store,
            )
        )
        if evaluation.request.repeats > 1:
            fold_single(
                entries[-1], extras.get(result.model_id, []), (doc.repeats or {}).get(result.model_id) if doc else None
            )

    # Scored first by weighted score, then unscored, then failed; rank only the scored ones.
    def order(e: ModelEntry) -> tuple[int, float]:
        group = 0 if e.weighted_score is not None else (1 if e.status == "ok" else 2)
        return group, -(e.weighted_score or 0.0)

    entries.sort(key=order)
    rank(entries)

    # Every judge call counts, also those on no model's behalf (the control answer, pairwise
    # comparisons): the score step totals them in judgeCalls when it makes any.
    calls = doc.judge_calls if doc else None
    judge_cost = round(calls.cost_usd if calls else sum(e.judge_cost_usd or 0.0 for e in entries), 8)
    judge_usage = calls.usage if calls else sum((e.judge_usage or Usage() for e in entries), Usage())
    judged = [e for e in entries if e.status == "ok" and e.score_status != "not judged"]
    unscored = sum(e.score_status == "unscored" for e in judged)
    # The score step measures the judge (control answer, panel, pairwise, length bias); the
    # unscored rate is counted here, over every answer that reached the judge.
    measures = doc.judge_health if doc else None
    health = JudgeHealth.graded(
        **({name: getattr(measures, name) for name in measures.model_fields_set} if measures else {}),
        unscored_rate=unscored_rate(unscored, len(judged)),
        judged=len(judged),
        unscored=unscored,
    )
    notices = []
    if judge_failure:
        notices.append(
            f"The judge failed ({judge_failure.error}: {judge_failure.message[:300]}), so no answer "
            "was scored and there is no ranking. The answers, their tokens and costs are below; run "
            "the same request again to judge them without asking the candidates again (their "
            "answers are checkpointed)."
        )
    return assemble(
        evaluation,
        entries=entries,
        totals=totals_of(entries, unscored=unscored, judge_cost=judge_cost),
        judge_health=health,
        judge_usage=judge_usage,
        judge_calls=calls,
        judge_model_ids=doc.judge_model_ids if doc else [evaluation.judge_model_id],
        notices=notices,
        judge_failure=judge_failure,
        arena=arena_from_scores(
            [(task.evaluation_id, doc)], evaluation.request.models, names={e.model_id: e.name for e in entries}
        )
        if doc and evaluation.request.mode == "arena"
        else None,
        repeats=repeats_section(
            evaluation,
            [(task.evaluation_id, doc)],
            [e.model_id for e in entries],
            {e.model_id: e.name for e in entries},
        ),
    )
