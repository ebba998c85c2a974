"""One candidate answers: from its checkpoint when it already did, else through Converse."""

from __future__ import annotations

from bakeoff.answers import answer_key, candidate_request
from bakeoff.batch_records import batch_outcome
from bakeoff.converse import ConverseClient
from bakeoff.errors import CheckpointCorruptError, ModelOutputError
from bakeoff.estimate import cost_usd
from bakeoff.evaluations import load_evaluation
from bakeoff.models import Answer, ModelResult, ModelTask
from bakeoff.observability import logger, record_model_call
from bakeoff.storage import Store


def answer(task: ModelTask, *, store: Store, converse: ConverseClient) -> ModelResult:
    evaluation = load_evaluation(store, task.evaluation_id)
    key = answer_key(evaluation, task.model_id, task.repeat)
    # Repeat 1 carries no mark (ModelResult.repeat), so a run without repeats returns what it always did.
    repeat = task.repeat if task.repeat > 1 else None
    if evaluation.inference == "batch" and (outcome := batch_outcome(store, evaluation, task.model_id)):
        return outcome  # this run's batch job answered (or failed) this record: never asked again on-demand
    if evaluation.request.use_cache:
        try:
            cached = store.get_checkpoint(key)
        except CheckpointCorruptError:
            logger.warning("corrupt checkpoint, recomputing", extra={"key": key, "modelId": task.model_id})
            cached = None
        if cached is not None:
            found = Answer.model_validate(cached)
            logger.info("answer from checkpoint", extra={"modelId": task.model_id, "key": key})
            return ModelResult(
                model_id=task.model_id,
                status="ok",
                answer_key=key,
                usage=found.usage,
                latency_ms=found.latency_ms,
                stop_reason=found.stop_reason,
                cached=True,
                inference=found.inference,
                repeat=repeat,
            )

    # Past the evaluation's deadline no call starts, and one that would outlast it gets only the time left.
    result = converse.until(evaluation.deadline_at).converse(candidate_request(evaluation, task.model_id, task.repeat))
    record_model_call(
        task.model_id,
        "candidate",
        result.usage.input_tokens,
        result.usage.output_tokens,
        cost_usd(task.model_id, result.usage),
        result.latency_ms,
    )
    if not result.text.strip():
        raise ModelOutputError(
            f"{task.model_id} returned an empty answer (stopReason {result.stop_reason})",
            modelId=task.model_id,
            usage=result.usage.dump(),
        )
    found = Answer(
        model_id=task.model_id,
        text=result.text,
        stop_reason=result.stop_reason,
        usage=result.usage,
        latency_ms=result.latency_ms,
    )
    # Written before returning: if anything after this fails, a retry finds the answer here.
    store.put_checkpoint(key, found.dump())
    logger.info(
        "answered",
        extra={
            "modelId": task.model_id,
            "inputTokens": result.usage.input_tokens,
            "outputTokens": result.usage.output_tokens,
            "latencyMs": result.latency_ms,
        },
    )
    return ModelResult(
        model_id=task.model_id,
        status="ok",
        answer_key=key,
        usage=found.usage,
        latency_ms=found.latency_ms,
        stop_reason=found.stop_reason,
        repeat=repeat,
    )
