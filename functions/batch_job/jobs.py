"""The batch step of a dataset in batch mode: one Bedrock batch inference job per model, submitted, watched
and read back into the answer checkpoints the per-item model step then finds.

The state machine calls ``advance`` in a loop (the step, a Wait of ``pollSeconds``, the step again) until
it answers ``done``. Every call does what is due and nothing twice:

- first call: plan the records (one per item and model; items with the same article share one), skip those
  already checkpointed (a rerun pays nothing twice), reattach to a job an earlier run of the same dataset
  left running or unread (it is still billed once, on Bedrock), and submit one job per model for the rest.
  Fewer than ``BATCH_MIN_RECORDS`` left for a model (a rerun after most answers were kept) is no job: those
  few are asked on-demand by the model step, at on-demand prices.
- later calls: ``GetModelInvocationJob`` for each job not yet read back; a job that has ended (Completed,
  PartiallyCompleted, Failed, Stopped, Expired) is read back: each answer checkpointed exactly as an
  on-demand answer (same key, marked ``inference: batch``), and every record's outcome recorded for this
  evaluation (an answer, or the error that stands in for it).

Jobs are kept in a run document beside their records (``<answers>/batch/<hash>/run.json``), keyed by the
model and every record the dataset needs of it: a rerun of the same request finds its jobs there. Job
creation is idempotent too (``clientRequestToken`` from the run and the job's number), so a step that dies
between creating a job and recording it recreates nothing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bakeoff.batch import BATCH_MIN_RECORDS, TERMINAL_STATUSES, candidate_cost_usd
from bakeoff.batch_records import (
    BatchOutcome,
    BatchOutputLine,
    BatchRecord,
    outcome_key,
    parse_output,
    record_for,
    records_jsonl,
)
from bakeoff.converse import map_client_error, parse_response
from bakeoff.errors import BatchJobError, CheckpointCorruptError, ModelServiceError, StorageError
from bakeoff.evaluations import load_evaluation
from bakeoff.models import Answer, Contract, Evaluation, Usage
from bakeoff.observability import logger, record_model_call
from bakeoff.settings import Settings
from bakeoff.storage import Store, content_hash, evaluation_key

WORKERS = 16  # S3 reads and writes in flight while planning or reading a job back


class BatchTask(Contract):
    """The batch step's input (built by the ASL)."""

    evaluation_id: str


class BatchJob(Contract):
    """One batch inference job of a run."""

    seq: int
    job_arn: str
    record_ids: list[str]
    input_key: str
    output_prefix: str
    status: str = "Submitted"
    message: str = ""
    collected: bool = False


class BatchRun(Contract):
    """``<answers>/batch/<hash>/run.json``: the jobs submitted for one model over one dataset's records."""

    model_id: str
    answers_folder: str
    jobs: list[BatchJob] = []


class ModelBatch(Contract):
    """This evaluation's part in a run: the jobs it waits for and how many records are left to on-demand."""

    model_id: str
    run_key: str
    jobs: list[int] = []
    records: int
    checkpointed: int = 0
    on_demand: int = 0


class BatchState(Contract):
    """``evaluations/<id>/batch/state.json``, written by the first call."""

    models: list[ModelBatch]


class JobView(Contract):
    model_id: str
    job_arn: str
    status: str
    records: int


class BatchProgress(Contract):
    """The batch step's output: ``done`` ends the wait loop; the rest is for people reading the history."""

    evaluation_id: str
    done: bool
    poll_seconds: int
    jobs: list[JobView] = []
    checkpointed: dict[str, int] = {}
    on_demand: dict[str, int] = {}


def _bedrock_call(model_id: str, call: Any, **kwargs: Any) -> dict[str, Any]:
    """A control-plane call with Bedrock's errors named as the ASL knows them (throttling is retried)."""
    try:
        return call(**kwargs)
    except ClientError as exc:
        raise map_client_error(exc, model_id) from exc
    except BotoCoreError as exc:
        raise ModelServiceError(f"{model_id}: {exc}", modelId=model_id) from exc


def _run_key(folder: str, model_id: str, record_ids: list[str]) -> str:
    return f"{folder}/batch/{content_hash({'modelId': model_id, 'records': sorted(record_ids)})}/run.json"


def _load_run(store: Store, key: str) -> tuple[BatchRun | None, str | None]:
    raw, etag = store.get_json_tagged(key)
    return (BatchRun.model_validate(raw) if raw is not None else None), etag


def _save_run(store: Store, key: str, change: Any) -> BatchRun:
    """Read-modify-write of a run document, conditional on the version read: another evaluation of the
    same dataset may be updating it at the same time."""
    for _ in range(20):
        run, etag = _load_run(store, key)
        run = change(run)
        if store.put_json_if(key, run.dump(), etag=etag) is not None:
            return run
    raise StorageError(f"{key} kept changing: 20 conditional writes lost (the ASL retries)")


def _checkpointed(store: Store, key: str) -> bool:
    try:
        return store.get_checkpoint(key) is not None
    except CheckpointCorruptError:
        return False  # recomputed, like on-demand


def _submit(
    store: Store, bedrock: Any, settings: Settings, run_key: str, model_id: str, records: list[BatchRecord]
) -> int:
    """One job over ``records``; returns its number in the run. Idempotent: the job's token is the run
    and the number it gets, so a retry after a crash finds the job Bedrock already made."""
    run, _ = _load_run(store, run_key)
    seq = len(run.jobs) if run else 0
    folder = run_key.removesuffix("run.json") + f"{seq}/"
    input_key, output_prefix = folder + "input/records.jsonl", folder + "output/"
    store.put_bytes(input_key, records_jsonl(records), "application/jsonl")
    token = content_hash({"run": run_key, "seq": seq})
    created = _bedrock_call(
        model_id,
        bedrock.create_model_invocation_job,
        jobName=f"bakeoff-{token[:24]}-{seq}",
        roleArn=settings.BATCH_ROLE_ARN,
        clientRequestToken=token,
        modelId=model_id,
        modelInvocationType="Converse",
        inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{store.bucket}/{input_key}", "s3InputFormat": "JSONL"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{store.bucket}/{output_prefix}"}},
        timeoutDurationInHours=settings.BATCH_TIMEOUT_HOURS,
    )
    job = BatchJob(
        seq=seq,
        job_arn=created["jobArn"],
        record_ids=[r.record_id for r in records],
        input_key=input_key,
        output_prefix=output_prefix,
    )

    def append(current: BatchRun | None) -> BatchRun:
        current = current or BatchRun(model_id=model_id, answers_folder=run_key.split("/batch/")[0])
        if all(j.seq != seq for j in current.jobs):
            current.jobs.append(job)
        return current

    _save_run(store, run_key, append)
    logger.info("batch job submitted", extra={"modelId": model_id, "jobArn": job.job_arn, "records": len(records)})
    return seq


def _plan(evaluation: Evaluation, store: Store, bedrock: Any, settings: Settings) -> BatchState:
    """The first call: every record the dataset needs of each model, and the jobs that will answer them."""
    manifest = store.require_json(evaluation_key(evaluation.evaluation_id, "items.json"))
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        children = list(pool.map(lambda item: load_evaluation(store, item["evaluationId"]), manifest))
    models = []
    for model_id in evaluation.request.models:
        records: dict[str, tuple[str, BatchRecord]] = {}
        for child in children:
            key, record = record_for(child, model_id)
            records.setdefault(record.record_id, (key, record))  # one record per distinct article
        folder = next(iter(records.values()))[0].rsplit("/", 1)[0]
        run_key = _run_key(folder, model_id, list(records))
        run, _ = _load_run(store, run_key)
        # Jobs an earlier run of this dataset submitted and never read back: still running, or ended
        # while nobody looked. Their records are billed once, there; this run waits for them.
        pending = [j for j in (run.jobs if run else []) if not j.collected] if evaluation.request.use_cache else []
        covered = {rid for j in pending for rid in j.record_ids}
        kept: list[str] = []
        if evaluation.request.use_cache:
            unknown = [(rid, key) for rid, (key, _record) in records.items() if rid not in covered]
            with ThreadPoolExecutor(max_workers=WORKERS) as pool:
                found = list(pool.map(lambda pair: _checkpointed(store, pair[1]), unknown))
            kept = [rid for (rid, _key), done in zip(unknown, found, strict=True) if done]
        skip = covered | set(kept)
        missing = [record for rid, (_key, record) in records.items() if rid not in skip]
        jobs = [j.seq for j in pending]
        on_demand = 0
        # Past the evaluation's deadline no job starts: the model step then refuses those records as it refuses
        # any call past the deadline (DeadlineExceededError), and the report says so.
        if len(missing) >= BATCH_MIN_RECORDS and not _past(evaluation.deadline_at):
            jobs.append(_submit(store, bedrock, settings, run_key, model_id, missing))
        else:
            on_demand = len(missing)
        logger.info(
            "batch plan",
            extra={
                "modelId": model_id,
                "records": len(records),
                "checkpointed": len(kept),
                "reattached": len(covered),
                "submitted": len(missing) - on_demand,
                "onDemand": on_demand,
            },
        )
        models.append(
            ModelBatch(
                model_id=model_id,
                run_key=run_key,
                jobs=jobs,
                records=len(records),
                checkpointed=len(kept),
                on_demand=on_demand,
            )
        )
    return BatchState(models=models)


def _read_back(store: Store, evaluation_id: str, run: BatchRun, job: BatchJob) -> None:
    """Checkpoint every answer of an ended job and record every record's outcome for this evaluation."""
    model_id = run.model_id
    job_id = job.job_arn.rsplit("/", 1)[-1]
    outputs = [k for k in store.list_keys(f"{job.output_prefix}{job_id}/") if k.endswith(".jsonl.out")]
    lines: dict[str, BatchOutputLine] = {}
    unreadable = 0
    for key in outputs:
        parsed, bad = parse_output(store.get_bytes(key) or b"")
        unreadable += bad
        lines.update({line.record_id: line for line in parsed})
    billed = Usage()

    def outcome_of(record_id: str) -> BatchOutcome:
        nonlocal billed
        line = lines.get(record_id)
        if line is None:
            return BatchOutcome(
                model_id=model_id,
                status="failed",
                error="BatchJobError",
                message=f"the batch job {job.job_arn} ended {job.status} without answering this "
                f"record{': ' + job.message if job.message else ''}",
                details={"jobArn": job.job_arn, "jobStatus": job.status},
            )
        if line.model_output is None:
            error = line.error.dump() if line.error else {}
            return BatchOutcome(
                model_id=model_id,
                status="failed",
                error="BatchRecordError",
                message=f"the batch job answered this record with an error: "
                f"{error.get('errorCode', '')} {error.get('errorMessage', '')}".strip(),
                details={"jobArn": job.job_arn, **error},
            )
        result = parse_response(line.model_output, latency_ms=0)
        billed = billed + result.usage
        if not result.text.strip():
            return BatchOutcome(
                model_id=model_id,
                status="failed",
                error="ModelOutputError",
                message=f"returned an empty answer (stopReason {result.stop_reason})",
                details={"usage": result.usage.dump(), "jobArn": job.job_arn},
            )
        key = f"{run.answers_folder}/{record_id}.json"
        # The same checkpoint an on-demand call writes, so either mode finds the other's answers. A batch
        # job reports no per-record latency: 0 here, and the reports show none for batch answers.
        store.put_checkpoint(
            key,
            Answer(
                model_id=model_id,
                text=result.text,
                stop_reason=result.stop_reason,
                usage=result.usage,
                latency_ms=0,
                inference="batch",
            ).dump(),
        )
        return BatchOutcome(
            model_id=model_id, status="ok", answer_key=key, usage=result.usage, stop_reason=result.stop_reason
        )

    def settle(record_id: str) -> str:
        outcome = outcome_of(record_id)
        store.put_json(outcome_key(evaluation_id, record_id), outcome.dump())
        return outcome.status

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        statuses = list(pool.map(settle, job.record_ids))
    # One metric line for the whole job, priced at batch rates: what the cost alarms add up.
    record_model_call(
        model_id,
        "candidate",
        billed.input_tokens,
        billed.output_tokens,
        candidate_cost_usd(model_id, billed, "batch"),
        0,
    )
    logger.info(
        "batch job read back",
        extra={
            "modelId": model_id,
            "jobArn": job.job_arn,
            "status": job.status,
            "answered": statuses.count("ok"),
            "failed": statuses.count("failed"),
            "unreadableLines": unreadable,
        },
    )


def advance(task: BatchTask, *, store: Store, bedrock: Any, settings: Settings) -> BatchProgress:
    """Plan and submit (first call), then watch and read back the jobs; ``done`` when all are read back."""
    evaluation = load_evaluation(store, task.evaluation_id)
    state_key = evaluation_key(task.evaluation_id, "batch/state.json")
    raw = store.get_json(state_key)
    if raw is None:
        state = _plan(evaluation, store, bedrock, settings)
        store.put_json(state_key, state.dump())
    else:
        state = BatchState.model_validate(raw)
    past_deadline = _past(evaluation.deadline_at)
    views, done = [], True
    for model in state.models:
        run, _ = _load_run(store, model.run_key)
        if run is None:
            raise BatchJobError(f"{model.model_id}: the batch run {model.run_key} is gone", modelId=model.model_id)
        for job in (j for j in run.jobs if j.seq in model.jobs):
            if not job.collected and job.status not in TERMINAL_STATUSES:
                found = _bedrock_call(model.model_id, bedrock.get_model_invocation_job, jobIdentifier=job.job_arn)
                job.status, job.message = found["status"], found.get("message") or ""
                if past_deadline and job.status not in TERMINAL_STATUSES | {"Stopping"}:
                    # The evaluation's deadline: stop the job; what it answered by then is still read back.
                    _bedrock_call(model.model_id, bedrock.stop_model_invocation_job, jobIdentifier=job.job_arn)
            if not job.collected and job.status in TERMINAL_STATUSES:
                _read_back(store, task.evaluation_id, run, job)
                job.collected = True
            done = done and job.collected
            views.append(
                JobView(model_id=model.model_id, job_arn=job.job_arn, status=job.status, records=len(job.record_ids))
            )
        _save_run(store, model.run_key, lambda current, run=run: _merged(current, run))
    return BatchProgress(
        evaluation_id=task.evaluation_id,
        done=done,
        poll_seconds=settings.BATCH_POLL_SECONDS,
        jobs=views,
        checkpointed={m.model_id: m.checkpointed for m in state.models},
        on_demand={m.model_id: m.on_demand for m in state.models},
    )


def _past(deadline_at: str | None) -> bool:
    return bool(deadline_at) and datetime.now(UTC) >= datetime.fromisoformat(deadline_at or "")


def _merged(current: BatchRun | None, seen: BatchRun) -> BatchRun:
    """The run as stored now, with what this call learnt of its jobs (status, read back) laid over it."""
    if current is None:
        return seen
    by_seq = {j.seq: j for j in seen.jobs}
    for job in current.jobs:
        mine = by_seq.get(job.seq)
        if mine is not None:
            job.status, job.message = mine.status, mine.message
            job.collected = job.collected or mine.collected
    return current
