"""The score step: every answer that succeeded is judged, and the judge itself is measured.

1. Every judge (one, or a panel of 2-3) scores every answer; in pairwise mode every judge also
   compares every pair of answers in both orders. All of these calls run in one thread pool.
2. The control: a corrupted copy of the best answer, scored by every judge that scored the best.
3. Pure arithmetic: panel aggregate and agreement, pairwise flip rate, length bias, the judge's
   noise and the ties it implies, deterministic text metrics, and the cost of every judge call.

Everything lands in ``evaluations/<id>/scores.json`` for the report step. A retryable judge error
(throttling, timeout, service error) propagates so the state machine retries the step; every
judgment made before it is checkpointed, so the retry calls only what is still missing.
"""

from __future__ import annotations

import contextvars
import string
from collections.abc import Callable, Hashable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from functools import partial
from typing import Any, TypeVar

from bakeoff.converse import ConverseClient
from bakeoff.errors import BakeoffError, CheckpointCorruptError, ScoringError
from bakeoff.estimate import cost_usd, uncached_cost_usd
from bakeoff.evaluations import load_evaluation
from bakeoff.metrics import text_metrics
from bakeoff.models import Answer, ModelResult, ScoreInput, ScoreOutput, Usage, Verdict
from bakeoff.observability import MetricUnit, logger, metrics
from bakeoff.scores import (
    JudgeCalls,
    JudgeFailureNote,
    JudgeMeasures,
    ModelScores,
    RepeatScore,
    ScoresDocument,
    TextMetrics,
)
from bakeoff.storage import Store, evaluation_key
from functions.score.control import best_answer, control_result, corrupt
from functions.score.health import judge_noise, length_bias, tie_marks
from functions.score.judge import Judge
from functions.score.pairwise import Comparison, ordered_pairs, summarise
from functions.score.panel import agreement, combine
from functions.score.probes import plant, probe_result, probes_health

# The control answer's stand-in model ID (it is nobody's answer).
CONTROL_ID = "control"

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


def run_all(jobs: dict[K, Callable[[], T]], concurrency: int) -> dict[K, T]:
    """Run every job in a thread pool; the results by key, or the first error (in job order).

    On an error, jobs not yet started are cancelled (under throttling, more calls only make it
    worse) and running ones finish, so their judgments are checkpointed before the error leaves.
    """
    if not jobs:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(jobs)))) as pool:
        # Each job runs in a copy of this thread's context: the Logger's thread-local keys go with it.
        futures = {key: pool.submit(contextvars.copy_context().run, job) for key, job in jobs.items()}
        _, pending = wait(futures.values(), return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        wait(futures.values())
    finished = [f for f in futures.values() if not f.cancelled()]
    errors = [f.exception() for f in finished if f.exception() is not None]
    if errors:
        logger.warning(
            "judging stopped on an error; the step is retried from the checkpoints",
            extra={
                "error": type(errors[0]).__name__,
                "done": len(finished) - len(errors),
                "cancelled": len(futures) - len(finished),
            },
        )
        raise errors[0]
    return {key: future.result() for key, future in futures.items()}


def _answer_text(store: Store, result: ModelResult) -> str:
    try:
        body = store.get_checkpoint(result.answer_key or "")
    except CheckpointCorruptError as exc:
        raise ScoringError(
            f"the answer of {result.model_id} is corrupt: {exc.message}", modelId=result.model_id, key=result.answer_key
        ) from exc
    if body is None:
        raise ScoringError(
            f"the answer of {result.model_id} is missing at {result.answer_key}",
            modelId=result.model_id,
            key=result.answer_key,
        )
    return Answer.model_validate(body).text


def _probe_id(what: str) -> str:
    """The stand-in model ID of a control or probe verdict (it is nobody's answer)."""
    return what if what == CONTROL_ID else f"probe:{what}"


def _calls(judgments: list[Verdict | Comparison]) -> JudgeCalls:
    """``judgeCalls``: every judge call behind these judgments, control and pairwise included.

    Like a cached candidate answer, a judgment reused from a checkpoint counts with what it cost
    when it was made; ``cached`` says how many were reused.
    """
    cost = round(sum(cost_usd(j.judge_model_id, j.usage) for j in judgments), 8)
    uncached = round(sum(uncached_cost_usd(j.judge_model_id, j.usage) for j in judgments), 8)
    return JudgeCalls(
        count=sum(j.attempts for j in judgments),
        usage=sum((j.usage for j in judgments), Usage()),
        cost_usd=cost,
        cached=sum(j.cached for j in judgments),
        # Prompt caching: what the same calls would have cost with every input token at the input price.
        uncached_cost_usd=uncached,
        cache_saving_usd=round(uncached - cost, 8),
        # What this run itself spent: judgments reused from checkpoints were paid for by an earlier run.
        new_spend_usd=round(sum(cost_usd(j.judge_model_id, j.usage) for j in judgments if not j.cached), 8),
    )


def _repeat_score(repeat: int, verdicts: list[Verdict], criteria: list[Any]) -> RepeatScore:
    combined = combine(verdicts, criteria)
    return RepeatScore(
        repeat=repeat,
        status=combined.status,
        weighted_score=combined.weighted_score,
        scores={name: s.score for name, s in combined.scores.items()},
        judge_cost_usd=round(sum(cost_usd(v.judge_model_id, v.usage) for v in verdicts), 8),
        cached=all(v.cached for v in verdicts),
    )


def _repeat_scores(
    by_model: dict[str, list[Verdict]], by_repeat: dict[tuple[str, int], list[Verdict]], criteria: list[Any]
) -> dict[str, list[RepeatScore]]:
    """``repeats`` of scores.json: per model, every judged repeat in order (repeat 1 from the main verdicts)."""
    models = list(dict.fromkeys([*by_model, *(m for m, _r in by_repeat)]))
    return {
        m: [
            *([_repeat_score(1, by_model[m], criteria)] if m in by_model else []),
            *(_repeat_score(r, by_repeat[(m, r)], criteria) for r in sorted(r for mm, r in by_repeat if mm == m)),
        ]
        for m in models
    }


def _repeat_means(weighted: dict[str, float], repeats: dict[str, list[RepeatScore]]) -> dict[str, float]:
    """Each model scored on repeat 1: the mean of its scored repeats (what the report ranks by)."""
    means = {}
    for m in weighted:
        values = [r.weighted_score for r in repeats.get(m, []) if r.status == "scored" and r.weighted_score is not None]
        means[m] = sum(values) / len(values) if values else weighted[m]
    return means


def score_answers(
    task: ScoreInput, *, store: Store, converse: ConverseClient, concurrency: int, prompt_caching: bool = True
) -> ScoreOutput:
    evaluation = load_evaluation(store, task.evaluation_id)
    converse = converse.until(evaluation.judging_deadline_at)  # no judge call past the judging deadline
    request = evaluation.request
    criteria = evaluation.criteria
    article = request.article
    # Repeat 1 (a result without a repeat mark) goes through everything below, as in a run without repeats;
    # repeats 2..k are scored on the rubric only, for their spread (``repeats`` in scores.json).
    answers = {
        r.model_id: _answer_text(store, r)
        for r in task.results
        if r.status == "ok" and r.answer_key and r.repeat is None
    }
    repeated = {
        (r.model_id, r.repeat): _answer_text(store, r)
        for r in task.results
        if r.status == "ok" and r.answer_key and r.repeat is not None
    }
    order = list(answers)
    # The judge never sees model names: answers are labelled A, B, C in request order.
    labels = dict(zip(order, string.ascii_uppercase, strict=False))
    judges = [
        Judge(
            converse,
            store,
            judge_model_id=judge_id,
            criteria=criteria,
            article=article,
            task_prompt=request.prompt,
            use_cache=request.use_cache,
            scope=evaluation.api_key_id,
            prompt_caching=prompt_caching,
            reference=evaluation.reference_answer,
        )
        for judge_id in evaluation.judge_model_ids
    ]
    judge_ids = [j.judge_model_id for j in judges]
    pairwise = request.compares_pairs

    # 1. Every answer by every judge; every ordered pair by every judge in pairwise mode.
    jobs: dict[tuple[str, ...], Callable[[], Verdict | Comparison]] = {
        (j.judge_model_id, m): partial(j.score, m, answers[m], labels[m]) for j in judges for m in order
    }
    if pairwise:
        jobs |= {
            (j.judge_model_id, a, b): partial(j.compare, (a, answers[a]), (b, answers[b]))
            for j in judges
            for a, b in ordered_pairs(order)
        }
    jobs |= {
        ("repeat", j.judge_model_id, m, r): partial(j.score, m, text, labels.get(m, "A"))
        for j in judges
        for (m, r), text in repeated.items()
    }
    key = evaluation_key(task.evaluation_id, "scores.json")
    # A prompt cache entry serves other calls only once the call that writes it has begun to answer: each
    # caching judge's first call goes alone, so that the others read what it wrote instead of all writing.
    warm_up = {k: jobs.pop(k) for k in [(j.judge_model_id, order[0]) for j in judges if j.caching and order]}
    try:
        done = run_all(warm_up, concurrency)
        done |= run_all(jobs, concurrency)
    except BakeoffError as exc:
        # Keep the branch results beside the judge's failure before the error goes to Retry/Catch: a dataset
        # report reads each item from here, and must report the answers (and their cost) as not judged,
        # never as failed. A later successful attempt overwrites this document.
        failure = JudgeFailureNote(error=type(exc).__name__, message=exc.message)
        store.put_json(
            key, ScoresDocument(judge_model_ids=judge_ids, results=task.results, judge_failure=failure).dump()
        )
        raise
    by_model: dict[str, list[Verdict]] = {m: [done[(j, m)] for j in judge_ids] for m in order}  # type: ignore[misc]
    by_repeat: dict[tuple[str, int], list[Verdict]] = {
        (m, r): [done[("repeat", j, m, r)] for j in judge_ids]  # type: ignore[misc]
        for m, r in repeated
    }
    comparisons: list[Comparison] = [v for k, v in done.items() if len(k) == 3]  # type: ignore[misc]
    combined = {m: combine(by_model[m], criteria) for m in order}
    weighted = {m: v.weighted_score for m, v in combined.items() if v.weighted_score is not None}

    # 2. The control answer and the probes (one kind of error each), after the best answer is known.
    control: dict[str, Any] | None = None
    probes: dict[str, Any] | None = None
    planted_verdicts: list[Verdict] = []  # the control and the probes: judge calls on nobody's behalf
    kinds = request.probes
    best = best_answer(weighted, order) if request.control_answer or kinds else None
    if best is not None:
        originals = {v.judge_model_id: v for v in by_model[best] if v.status == "scored"}
        label = string.ascii_uppercase[len(order)]
        planted = {CONTROL_ID: corrupt(answers[best], article)} if request.control_answer else {}
        planted |= {kind: plant(kind, answers[best], article) for kind in kinds}
        checks = run_all(
            {
                (what, j.judge_model_id): partial(j.score, _probe_id(what), corruption.text, label)
                for what, corruption in planted.items()
                if corruption.changes
                for j in judges
                if j.judge_model_id in originals
            },
            concurrency,
        )
        planted_verdicts = list(checks.values())

        def verdicts_of(what: str) -> dict[str, Verdict]:
            return {judge: v for (w, judge), v in checks.items() if w == what}

        if request.control_answer:
            control = control_result(best, planted[CONTROL_ID], originals, verdicts_of(CONTROL_ID))
        if kinds:
            probes = probes_health(
                kinds,
                best,
                {kind: probe_result(kind, best, planted[kind], originals, verdicts_of(kind)) for kind in kinds},
            )

    # 3. Arithmetic only from here.
    repeat_scores = _repeat_scores(by_model, by_repeat, criteria) if request.repeats > 1 else None
    panel = agreement(by_model, judge_ids, criteria) if len(judges) > 1 else None
    pairwise_health = summarise(comparisons, order) if pairwise else None
    noise, noise_source = judge_noise(panel, criteria)
    # With repeats the report ranks by the mean of each model's scored repeats: ties are between those means.
    ties = tie_marks(_repeat_means(weighted, repeat_scores) if repeat_scores else weighted, noise, pairwise_health)
    text = {m: text_metrics(answers[m], article, evaluation.reference_answer) for m in order}

    models = {
        m: ModelScores(
            **combined[m].model_dump(exclude_none=True),
            judge_cost_usd=round(sum(cost_usd(v.judge_model_id, v.usage) for v in by_model[m]), 8),
            **({"panel": {v.judge_model_id: v.weighted_score for v in by_model[m]}} if panel is not None else {}),
            metrics=TextMetrics.model_validate(text[m]),
            tie=bool(ties.get(m)),
            tied_with=ties.get(m, []),
        )
        for m in order
    }

    verdicts = [v for m in order for v in by_model[m]]
    repeat_verdicts = [v for vs in by_repeat.values() for v in vs]
    judge_health = JudgeMeasures.model_validate(
        {
            "control": control,
            "controlPassed": control["passed"] if control else None,
            "panel": panel,
            "pairwise": pairwise_health,
            **({"probes": probes} if probes is not None else {}),
            "lengthBias": length_bias({m: text[m]["wordCount"] for m in order}, weighted),
            "noise": noise,
            "noiseSource": noise_source,
        }
    )
    store.put_json(
        key,
        ScoresDocument(
            judge_model_id=evaluation.judge_model_id,
            judge_model_ids=judge_ids,
            verdicts=verdicts,
            models=models,
            judge_health=judge_health,
            judge_calls=_calls([*verdicts, *planted_verdicts, *comparisons, *repeat_verdicts]),
            # The branch results too: in dataset mode the report reads each item from here, since a
            # Distributed Map's own results would outgrow the state payload limit.
            results=task.results,
            # The reference answer the judge graded against: a dataset report shows each item's.
            **({"reference": evaluation.reference_answer} if evaluation.reference_answer is not None else {}),
            **({"repeats": repeat_scores} if repeat_scores is not None else {}),
        ).dump(),
    )

    # Every judged answer counts, repeats 2..k too (repeat 1 of each model is in ``combined``).
    statuses = [v.status for v in combined.values()] + [
        r.status for rs in (repeat_scores or {}).values() for r in rs if r.repeat > 1
    ]
    scored = statuses.count("scored")
    metrics.add_metric(name="UnscoredAnswers", unit=MetricUnit.Count, value=len(statuses) - scored)
    if control and control["passed"] is not None:
        metrics.add_metric(name="ControlFailed", unit=MetricUnit.Count, value=0 if control["passed"] else 1)
    logger.info(
        "scored",
        extra={
            "scored": scored,
            "unscored": len(statuses) - scored,
            "judges": judge_ids,
            "controlPassed": judge_health.control_passed,
            "noise": noise,
        },
    )
    return ScoreOutput(evaluation_id=task.evaluation_id, scores_key=key, scored=scored, unscored=len(statuses) - scored)
