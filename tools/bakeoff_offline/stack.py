"""The whole stack in one process: moto's S3 and Step Functions, the real ASL, the real handlers."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from bakeoff.errors import parse_cause
from bakeoff_offline.bucket import WriteThrough, load_objects, provision_bucket, save_objects
from bakeoff_offline.lambda_api import LambdaInvokeServer, LocalFunction
from bakeoff_offline.moto_tuning import tuned_moto
from bakeoff_offline.one_process import serialise_metric_flushes
from bakeoff_offline.task_root import use_task_root
from bakeoff_offline.template import ACCOUNT, REGION, STATE_MACHINE_NAME, Stack, read_stack

_env_lock = threading.Lock()


@contextlib.contextmanager
def patched_env(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _with_own_log_identity(handler: Any, module: Any, service: str | None) -> Any:
    """``handler``, logging as its own function: in AWS each function has a process of its own, so its
    Powertools Logger names its own service and Lambda context. Here every handler shares the layer's
    one Logger (``bakeoff.observability``), whose service is the first importer's and whose
    ``inject_lambda_context`` keys are overwritten by concurrent invocations of other functions. So
    each invocation sets them as the Logger's thread-local keys, which take precedence, and removes
    them after. ``cold_start`` is per function, as per container."""
    from aws_lambda_powertools import Logger

    loggers = [value for value in vars(module).values() if isinstance(value, Logger)]
    if not loggers:
        return handler
    logger = loggers[0]  # the keys live in one context variable shared by every Powertools Logger
    started = threading.Lock()  # held for good by the first invocation: the container's cold start

    def logging_as_itself(event: Any, context: Any) -> Any:
        keys = {
            "service": service or logger.service,
            "cold_start": started.acquire(blocking=False),
            "function_name": context.function_name,
            "function_arn": context.invoked_function_arn,
            "function_memory_size": context.memory_limit_in_mb,
            "function_request_id": context.aws_request_id,
        }
        logger.thread_safe_append_keys(**keys)
        try:
            return handler(event, context)
        finally:
            logger.thread_safe_remove_keys(keys)

    return logging_as_itself


class ImportModuleError(Exception):
    """A handler module failed to import (Lambda's ``Runtime.ImportModuleError``)."""


@dataclass
class Execution:
    evaluation_id: str
    arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def cause_json(self) -> dict[str, Any] | None:
        """The failing Lambda's error payload, and inside it our error's JSON details, when there are any."""
        return parse_cause(self.cause)


class OfflineStack:
    """Use as a context manager; ``run(request)`` executes one evaluation end to end."""

    def __init__(
        self,
        root: Path,
        *,
        parameters: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        retry_time_scale: float = 1.0,
        checkpoint_dir: Path | None = None,
        state_dir: Path | None = None,
        lambda_endpoint: str | None = None,
    ) -> None:
        self.root = Path(root)
        use_task_root(self.root)  # the handlers in template.yaml are imported from this checkout
        # The Lambda Invoke API the state machine's tasks call: by default the real handlers in this
        # process; or another, such as `sam local start-lambda` running the SAM build in containers.
        self.lambda_endpoint = lambda_endpoint
        # Offline, Bedrock's batch service is the local one and a job takes seconds: poll it every second.
        self.stack: Stack = read_stack(self.root, parameters={"BatchPollSeconds": 1, **(parameters or {})})
        self.env_overrides = env or {}
        self.retry_time_scale = retry_time_scale
        # moto's bucket lives in memory: with a folder given, checkpoints are loaded from it at the start,
        # written through to it as they are made, and saved again at the end, so a rerun in a new command
        # (after a crash or a kill too) calls no model that already answered.
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        # With a state folder, the whole bucket (evaluations, reports, checkpoints) is loaded from it and
        # written through to it: a server restarted on the same folder finds everything again.
        self.state_dir = Path(state_dir) if state_dir else None
        if self.state_dir and self.checkpoint_dir:
            raise ValueError("give checkpoint_dir or state_dir, not both")
        self.lambda_server: LambdaInvokeServer | None = None
        self.batch_jobs: Any = None  # the local batch inference service (bakeoff_offline.bedrock_batch)
        self.modules: dict[str, Any] = {}  # the imported handler modules, by logical ID
        self._handlers: dict[str, Any] = {}  # logical ID -> the function that imports its handler once
        self._wake = threading.Event()  # set when an execution may just have ended
        self._abort: tuple[str, str] | None = None  # (error, cause) once abort() was called
        self._exit = contextlib.ExitStack()

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> OfflineStack:
        from moto import mock_aws

        serialise_metric_flushes()  # many handlers in one process: see one_process.py
        self._exit.enter_context(
            patched_env(
                {
                    "AWS_DEFAULT_REGION": REGION,
                    "AWS_ACCESS_KEY_ID": "offline",
                    "AWS_SECRET_ACCESS_KEY": "offline",
                    "AWS_SESSION_TOKEN": "offline",
                }
            )
        )
        self._exit.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        self._exit.enter_context(tuned_moto(self.retry_time_scale))
        self.s3 = boto3.client("s3", region_name=REGION)
        provision_bucket(self.s3, self.stack)
        folder, prefix = (self.checkpoint_dir, "checkpoints/") if self.checkpoint_dir else (self.state_dir, "")
        if folder:
            # Every file, not only JSON: batch jobs keep their records and results (.jsonl, .out) there too.
            load_objects(self.stack.bucket_name, folder, prefix, json_only=False)
            # Each object is on disk when its put returns, not only at a clean exit: a killed run loses
            # no answer or verdict it received. Installed before any handler creates its client.
            write_through = WriteThrough.install()
            write_through.folder, write_through.bucket, write_through.prefix = folder, self.stack.bucket_name, prefix
            self._exit.callback(setattr, write_through, "folder", None)
        # Unsigned: moto checks no signature, and SigV4 is CPU the run can use (see moto_tuning).
        self.sfn = boto3.client("stepfunctions", region_name=REGION, config=Config(signature_version=UNSIGNED))
        definition = self.stack.definition()
        if not self.lambda_endpoint:
            # Beside the bucket's files, not among them: a state folder is loaded into the bucket whole.
            self._serve_batch_jobs(
                folder.with_name(folder.name + ".bedrock-batch")
                if self.state_dir
                else folder / ".bedrock-batch"
                if folder
                else None
            )
            self._serve_functions(definition)
        # Only Lambda is redirected: the interpreter's lambda:invoke tasks honour this variable.
        self._exit.enter_context(
            patched_env({"AWS_ENDPOINT_URL_LAMBDA": self.lambda_endpoint or self.lambda_server.url})
        )
        self.state_machine_arn = self.sfn.create_state_machine(
            name=STATE_MACHINE_NAME, definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT}:role/bakeoff-offline"
        )["stateMachineArn"]
        return self

    def _serve_functions(self, definition: str) -> None:
        functions = {
            spec.logical_id: LocalFunction(spec.logical_id, spec.arn, self._first_use(spec), spec.memory, spec.timeout)
            for spec in self.stack.functions.values()
        }
        for spec in self.stack.functions.values():
            if spec.arn in definition:  # a state machine function: imported now (see _first_use)
                self._handlers[spec.logical_id]()
        self.lambda_server = LambdaInvokeServer(functions).start()
        self.lambda_server.on_finish.append(self._maybe_done)
        self._exit.callback(self.lambda_server.stop)

    def _serve_batch_jobs(self, state_dir: Path | None) -> None:
        """Bedrock's batch inference service, local (moto has none): jobs run their records through the same
        Converse endpoint the functions use. Its jobs are kept beside the checkpoints, so a job a killed run
        left unfinished carries on in the next one, as it would on Bedrock."""
        from botocore.config import Config

        from bakeoff_offline.bedrock_batch import ENDPOINT_VAR, LocalBatchJobs, LocalBatchServer

        runtime_url = self.env_overrides.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME") or os.environ.get(
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
        )
        if not runtime_url:
            return
        runtime = boto3.client(
            "bedrock-runtime",
            region_name=REGION,
            endpoint_url=runtime_url,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=600),
        )
        # A client made now, after the write-through hook: the results a job writes reach the disk as well.
        self.batch_jobs = LocalBatchJobs(
            s3=boto3.client("s3", region_name=REGION),
            runtime=runtime,
            region=REGION,
            account=ACCOUNT,
            state_dir=state_dir,
        )
        server = LocalBatchServer(self.batch_jobs).start()
        self._exit.callback(server.stop)
        self._exit.callback(self.batch_jobs.close)  # first: no runner writes to S3 once moto is gone
        self.env_overrides = {**self.env_overrides, ENDPOINT_VAR: server.url}
        self.batch_jobs.resume()

    def __exit__(self, *exc: object) -> None:
        try:
            if self.checkpoint_dir:
                self.save_checkpoints(self.checkpoint_dir)
        finally:
            self._exit.close()

    def save_checkpoints(self, folder: Path) -> int:
        """Write every ``checkpoints/`` object to ``folder`` under its key; returns how many changed."""
        return save_objects(self.stack.bucket_name, Path(folder), "checkpoints/")

    def module(self, logical_id: str) -> Any:
        """The function's handler module, imported now if no invocation has imported it yet."""
        self._handlers[logical_id]()
        return self.modules[logical_id]

    def _first_use(self, spec: Any) -> Any:
        """The handler, imported at its function's first invocation, as Lambda starts a container on
        the first request: ``local run`` never calls ApiFunction, so never imports it.

        The state machine's own functions are imported up front (``__enter__``): an import sets the
        function's environment process-wide for its duration, and one overlapping running handlers
        would lend them its variables (a test caught ``POWERTOOLS_SERVICE_NAME`` leaking into another
        function's metrics). A function outside the state machine (the API) is first invoked before
        any execution it starts."""
        lock = threading.Lock()
        loaded: list[Any] = []

        def load() -> Any:
            with lock:
                if not loaded:
                    loaded.append(self._load(spec))
            return loaded[0]

        def handler(event: Any, context: Any) -> Any:
            return (loaded[0] if loaded else load())(event, context)

        self._handlers[spec.logical_id] = load
        return handler

    def _load(self, spec: Any) -> Any:
        """Import the handler module fresh, under the environment the template gives that function.

        Handlers read their settings and build their clients at import (cold start), so each is
        imported with its own variables in place, as its own Lambda container would be.
        """
        try:
            with _env_lock, patched_env(spec.environment | self.env_overrides):
                sys.modules.pop(spec.module, None)
                module = importlib.import_module(spec.module)
            self.modules[spec.logical_id] = module
            return _with_own_log_identity(
                getattr(module, spec.attribute), module, spec.environment.get("POWERTOOLS_SERVICE_NAME")
            )
        except Exception as exc:  # noqa: BLE001 - Lambda reports init failures on invoke; so do we
            problem = f"{spec.logical_id}: cannot import {spec.handler}: {type(exc).__name__}: {exc}"

            def broken(event: Any, context: Any) -> Any:
                raise ImportModuleError(problem)

            return broken

    def _maybe_done(self, done: Any) -> None:
        # An execution ends after its report step or after a failure: look then, rather than polling
        # moto (each describe_execution costs CPU the running execution needs).
        if done.function == "ReportFunction" or done.error_type:
            self._wake.set()

    def abort(self, error: str, cause: str) -> None:
        """Stop the execution being waited for, at once, from any thread: for a failure no Retry can
        mend (the model server died), so no state goes on calling a process that is gone."""
        self._abort = (error, cause)
        if self.lambda_server:
            self.lambda_server.refusing = f"{error}: {cause}"
        self._wake.set()

    # --- running --------------------------------------------------------------------------

    def start(self, request: Any, evaluation_id: str | None = None) -> tuple[str, str]:
        from bakeoff.ids import new_evaluation_id

        evaluation_id = evaluation_id or new_evaluation_id()
        arn = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=evaluation_id, input=json.dumps(request)
        )["executionArn"]
        return evaluation_id, arn

    def wait(self, evaluation_id: str, arn: str, timeout: float = 3600, started: float | None = None) -> Execution:
        started = started or time.perf_counter()
        pause = 0.02
        while True:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                break
            stop = self._abort or (
                ("OfflineTimeout", f"over {timeout} s") if time.perf_counter() - started > timeout else None
            )
            if stop:
                self.sfn.stop_execution(executionArn=arn, error=stop[0], cause=stop[1][:32768])
                # moto's interpreter may still say RUNNING (the stop lands at the next state): what was
                # stopped, and why, is known here.
                described = {
                    **self.sfn.describe_execution(executionArn=arn),
                    "status": "ABORTED",
                    "error": stop[0],
                    "cause": stop[1],
                }
                break
            if self._wake.wait(pause):
                self._wake.clear()
                pause = 0.02  # the end is near: look again soon
            else:
                pause = min(pause * 2, 1.0)
        output = json.loads(described["output"]) if described.get("output") else None
        return Execution(
            evaluation_id=evaluation_id,
            arn=arn,
            status=described["status"],
            output=output,
            error=described.get("error"),
            cause=described.get("cause"),
            seconds=time.perf_counter() - started,
        )

    def run(self, request: Any, evaluation_id: str | None = None, timeout: float = 3600) -> Execution:
        started = time.perf_counter()
        evaluation_id, arn = self.start(request, evaluation_id)
        return self.wait(evaluation_id, arn, timeout, started)

    def history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for page in self.sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            events.extend(page["events"])
        return events

    # --- reading results ------------------------------------------------------------------

    def get_object(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.stack.bucket_name, Key=key)["Body"].read()

    def report(self, evaluation_id: str) -> dict[str, Any]:
        return json.loads(self.get_object(f"reports/{evaluation_id}/report.json"))

    def download_reports(self, evaluation_id: str, out_dir: Path) -> Path:
        """Copy ``reports/<id>/*`` and the index into ``out_dir``; returns the report's folder."""
        out_dir = Path(out_dir)
        target = out_dir / evaluation_id
        target.mkdir(parents=True, exist_ok=True)
        listing = self.s3.list_objects_v2(Bucket=self.stack.bucket_name, Prefix=f"reports/{evaluation_id}/")
        for obj in listing.get("Contents", []):
            (target / obj["Key"].rsplit("/", 1)[1]).write_bytes(self.get_object(obj["Key"]))
        return target
