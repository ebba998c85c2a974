"""A local stand-in for Bedrock's batch inference service: the control plane's job calls over HTTP, and a
runner that answers each job's JSONL records through a Converse endpoint and writes the output to S3 as
Bedrock does.

moto 5.2.5's ``bedrock`` backend has no model invocation jobs (CreateModelInvocationJob,
GetModelInvocationJob and StopModelInvocationJob are not implemented), so offline the deployed code's
``bedrock`` client is pointed here (``AWS_ENDPOINT_URL_BEDROCK``) and talks the same REST API:

- ``POST /model-invocation-job`` with the job's ``modelId``, ``modelInvocationType`` (Converse),
  ``inputDataConfig.s3InputDataConfig.s3Uri`` (a ``.jsonl`` object or a prefix of them) and
  ``outputDataConfig.s3OutputDataConfig.s3Uri``; refused (ValidationException) below ``min_records``, as
  Bedrock refuses it; idempotent on ``clientRequestToken``. Answers ``{"jobArn"}``.
- ``GET /model-invocation-job/{jobIdentifier}``: the job, with ``status`` Submitted, InProgress,
  Completed, Stopping or Stopped (and ``message``).
- ``POST /model-invocation-job/{jobIdentifier}/stop``.

Each record's ``modelInput`` is a Converse request body, sent as it is to the Converse endpoint (the local
llama.cpp one, or a scripted one in tests); the output is ``<output>/<jobId>/<input name>.out`` with one
``{"recordId", "modelInput", "modelOutput"}`` (or ``"error": {"errorCode", "errorMessage"}``) per record,
and ``manifest.json.out`` with the counts. Like Bedrock's, a job outlives whoever created it: with a
``state_dir`` the jobs and each answered record are kept on disk as they happen, and a new service on the
same folder carries on with the records not yet answered (a killed ``bakeoff local run`` loses none it
received). Nothing here knows about evaluations.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from bakeoff_offline.loopback import LoopbackServer

ENDPOINT_VAR = "AWS_ENDPOINT_URL_BEDROCK"
TERMINAL = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")
RETRYABLE = (
    "ThrottlingException",
    "ServiceUnavailableException",
    "InternalServerException",
    "ModelNotReadyException",
    "ModelTimeoutException",
)


class ApiError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class LocalBatchJobs:
    """The jobs and their runners. ``s3`` and ``runtime`` are boto3 clients (S3 holding the records and
    results; ``bedrock-runtime`` answering them); ``concurrency`` records of a job are in flight at once."""

    def __init__(
        self,
        *,
        s3: Any,
        runtime: Any,
        region: str,
        account: str,
        state_dir: Path | None = None,
        min_records: int = 100,
        concurrency: int = 4,
    ) -> None:
        self._s3, self._runtime = s3, runtime
        self._region, self._account = region, account
        self._state_dir = Path(state_dir) if state_dir else None
        self.min_records, self.concurrency = min_records, concurrency
        self.jobs: dict[str, dict[str, Any]] = {}  # job ID -> the job, as GetModelInvocationJob shows it + records
        self._results: dict[str, dict[str, dict[str, Any]]] = {}  # job ID -> record ID -> output line
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._runners: list[threading.Thread] = []
        if self._state_dir:
            self._load()

    # --- the API -------------------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        for name in ("jobName", "roleArn", "modelId", "inputDataConfig", "outputDataConfig"):
            if not body.get(name):
                raise ApiError(400, "ValidationException", f"{name} is required")
        token = body.get("clientRequestToken")
        with self._lock:
            same = next((j for j in self.jobs.values() if token and j["clientRequestToken"] == token), None)
            if same is not None:  # Bedrock's idempotency: the same request again is the same job
                return {"jobArn": same["jobArn"]}
            if any(j["jobName"] == body["jobName"] for j in self.jobs.values()):
                raise ApiError(400, "ValidationException", f"a job named {body['jobName']} already exists")
        if body.get("modelInvocationType", "InvokeModel") != "Converse":
            raise ApiError(
                400,
                "ValidationException",
                "this local batch service runs Converse jobs only (modelInvocationType: Converse)",
            )
        records = self._read_records(body["inputDataConfig"]["s3InputDataConfig"]["s3Uri"])
        if len(records) < self.min_records:
            raise ApiError(
                400,
                "ValidationException",
                f"The number of records in the input ({len(records)}) is "
                f"less than the minimum of {self.min_records} for a batch "
                "inference job.",
            )
        job_id = secrets.token_hex(6)
        job = {
            "jobArn": f"arn:aws:bedrock:{self._region}:{self._account}:model-invocation-job/{job_id}",
            "jobName": body["jobName"],
            "modelId": body["modelId"],
            "clientRequestToken": token or job_id,
            "roleArn": body["roleArn"],
            "status": "Submitted",
            "message": "",
            "submitTime": _now(),
            "lastModifiedTime": _now(),
            "inputDataConfig": body["inputDataConfig"],
            "outputDataConfig": body["outputDataConfig"],
            "modelInvocationType": "Converse",
            "timeoutDurationInHours": body.get("timeoutDurationInHours", 24),
            "inputName": body["inputDataConfig"]["s3InputDataConfig"]["s3Uri"].rstrip("/").rsplit("/", 1)[-1],
            "records": records,
        }
        with self._lock:
            self.jobs[job_id] = job
            self._results[job_id] = {}
            self._save(job_id)
        self._start(job_id)
        return {"jobArn": job["jobArn"]}

    def get(self, identifier: str) -> dict[str, Any]:
        job = self._find(identifier)
        with self._lock:
            return {k: v for k, v in job.items() if k not in ("records", "inputName")}

    def stop(self, identifier: str) -> None:
        job = self._find(identifier)
        with self._lock:
            if job["status"] in TERMINAL:
                raise ApiError(400, "ValidationException", f"the job is {job['status']}")
            self._set(job, "Stopping")

    # --- running -------------------------------------------------------------------------

    def _find(self, identifier: str) -> dict[str, Any]:
        job_id = identifier.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "ResourceNotFoundException", f"no batch inference job {identifier}")
        return job

    def _set(self, job: dict[str, Any], status: str, message: str = "") -> None:
        job.update(status=status, message=message, lastModifiedTime=_now())
        if status in TERMINAL:
            job["endTime"] = _now()
        self._save(job["jobArn"].rsplit("/", 1)[-1])

    def _read_records(self, uri: str) -> list[dict[str, Any]]:
        bucket, key = _split_uri(uri)
        if key.endswith(".jsonl"):
            keys = [key]
        else:
            listing = self._s3.list_objects_v2(Bucket=bucket, Prefix=key)
            keys = [o["Key"] for o in listing.get("Contents", []) if o["Key"].endswith(".jsonl")]
        records = []
        for found in keys:
            try:
                body = self._s3.get_object(Bucket=bucket, Key=found)["Body"].read().decode()
            except ClientError as exc:
                raise ApiError(400, "ValidationException", f"cannot read {uri}: {exc}") from exc
            for number, line in enumerate(body.splitlines(), start=1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except ValueError as exc:
                        raise ApiError(400, "ValidationException", f"{found} line {number} is not JSON") from exc
        return records

    def _start(self, job_id: str) -> None:
        runner = threading.Thread(target=self._run, args=(job_id,), name=f"batch-job-{job_id}", daemon=True)
        self._runners.append(runner)
        runner.start()

    def _run(self, job_id: str) -> None:
        job = self.jobs[job_id]
        with self._lock:
            if job["status"] == "Submitted":
                self._set(job, "InProgress")
            todo = [r for r in job["records"] if r.get("recordId") not in self._results[job_id]]

        def answer(record: dict[str, Any]) -> None:
            if self._closed.is_set() or job["status"] == "Stopping":
                return
            line = self._answer(job["modelId"], record)
            with self._lock:
                if self._closed.is_set():
                    return
                self._results[job_id][record.get("recordId", "")] = line
                self._append(job_id, line)

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            list(pool.map(answer, todo))
        if self._closed.is_set():
            return  # the service went away mid-job: a new one on the same state folder carries on
        self._write_output(job)
        with self._lock:
            self._set(job, "Stopped" if job["status"] == "Stopping" else "Completed")

    def _answer(self, model_id: str, record: dict[str, Any]) -> dict[str, Any]:
        line: dict[str, Any] = {"recordId": record.get("recordId", ""), "modelInput": record.get("modelInput")}
        for attempt in range(3):  # Bedrock retries a throttled or failed record itself, within the job
            try:
                reply = self._runtime.converse(modelId=model_id, **(record.get("modelInput") or {}))
                reply.pop("ResponseMetadata", None)
                return line | {"modelOutput": reply}
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in RETRYABLE and attempt < 2:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
                message = exc.response.get("Error", {}).get("Message", str(exc))
                return line | {"error": {"errorCode": status, "errorMessage": f"{code}: {message}"}}
            except BotoCoreError as exc:
                if attempt < 2:
                    continue
                return line | {"error": {"errorCode": 500, "errorMessage": str(exc)}}
        raise AssertionError("unreachable")

    def _write_output(self, job: dict[str, Any]) -> None:
        job_id = job["jobArn"].rsplit("/", 1)[-1]
        bucket, prefix = _split_uri(job["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"])
        folder = f"{prefix.rstrip('/')}/{job_id}/" if prefix else f"{job_id}/"
        lines = list(self._results[job_id].values())
        ok = [line for line in lines if "modelOutput" in line]
        usage = [line["modelOutput"].get("usage") or {} for line in ok]
        manifest = {
            "totalRecordCount": len(job["records"]),
            "processedRecordCount": len(lines),
            "successRecordCount": len(ok),
            "errorRecordCount": len(lines) - len(ok),
            "inputTokenCount": sum(u.get("inputTokens", 0) for u in usage),
            "outputTokenCount": sum(u.get("outputTokens", 0) for u in usage),
        }
        body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
        self._s3.put_object(Bucket=bucket, Key=f"{folder}{job['inputName']}.out", Body=body)
        self._s3.put_object(Bucket=bucket, Key=f"{folder}manifest.json.out", Body=json.dumps(manifest).encode())

    # --- what outlives the process -------------------------------------------------------

    def _save(self, job_id: str) -> None:
        if self._state_dir:
            self._state_dir.mkdir(parents=True, exist_ok=True)
            partial = self._state_dir / f"{job_id}.json.partial"
            partial.write_text(json.dumps(self.jobs[job_id]))
            partial.replace(self._state_dir / f"{job_id}.json")

    def _append(self, job_id: str, line: dict[str, Any]) -> None:
        if self._state_dir:
            with open(self._state_dir / f"{job_id}.results.jsonl", "a", encoding="utf-8") as out:
                out.write(json.dumps(line) + "\n")

    def _load(self) -> None:
        for path in sorted(self._state_dir.glob("*.json")) if self._state_dir.is_dir() else []:
            job = json.loads(path.read_text())
            job_id = path.stem
            results: dict[str, dict[str, Any]] = {}
            answered = self._state_dir / f"{job_id}.results.jsonl"
            for text in answered.read_text().splitlines() if answered.exists() else []:
                try:
                    line = json.loads(text)
                except ValueError:
                    continue  # the last line of a killed process, torn: that record is answered again
                results[line.get("recordId", "")] = line
            self.jobs[job_id], self._results[job_id] = job, results

    def resume(self) -> None:
        """Carry on with the jobs a previous service left unfinished."""
        for job_id, job in list(self.jobs.items()):
            if job["status"] not in TERMINAL:
                self._start(job_id)

    def close(self) -> None:
        self._closed.set()
        for runner in self._runners:
            runner.join(timeout=5)


class LocalBatchServer(LoopbackServer):
    """The control plane's three job calls over HTTP, in front of ``LocalBatchJobs``."""

    def __init__(self, jobs: LocalBatchJobs, host: str = "127.0.0.1", port: int = 0) -> None:
        self.jobs = jobs
        service = jobs

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _route(self) -> tuple[str, str]:
                path = unquote(self.path.split("?")[0])
                prefix = "/model-invocation-job"
                if not path.startswith(prefix):
                    raise ApiError(404, "UnknownOperationException", f"no route {self.path}")
                return path[len(prefix) :].strip("/"), self.command

            def _handle(self) -> None:
                try:
                    rest, method = self._route()
                    length = int(self.headers.get("Content-Length") or 0)
                    body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                    if method == "POST" and not rest:
                        return self._send(200, service.create(body))
                    if method == "GET" and rest:
                        return self._send(200, service.get(rest))
                    if method == "POST" and rest.endswith("/stop"):
                        service.stop(rest.removesuffix("/stop"))
                        return self._send(200, {})
                    raise ApiError(404, "UnknownOperationException", f"no route {method} {self.path}")
                except ApiError as exc:
                    self._send(exc.status, {"message": exc.message}, error_type=exc.error_type)

            do_GET = do_POST = _handle  # noqa: N815 - http.server's naming

            def _send(self, status: int, body: Any, error_type: str | None = None) -> None:
                data = json.dumps(body, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.end_headers()
                self.wfile.write(data)

        self._listen(_Handler, host, port, "bedrock-batch")
