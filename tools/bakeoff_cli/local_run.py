"""``bakeoff local run EVENT.json``: one real evaluation, offline, through the real state machine."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import webbrowser
from argparse import Namespace
from pathlib import Path
from typing import Any

from bakeoff_cli.console import console, print_refusal, print_summary
from bakeoff_cli.paths import project_root

ENDPOINT_VAR = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
DEFAULT_LOCAL_JUDGE = "local.qwen2-5-coder-1-5b-instruct-v1:0"


def load_event(path: Path) -> Any:
    """The request file, read as strictly as the API reads a body (``bakeoff.jsontext``): a key twice,
    ``NaN`` or nesting too deep is refused with the field named, never resolved or crashed on."""
    from bakeoff.errors import RequestValidationError
    from bakeoff.jsontext import parse_json

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SystemExit(f"bakeoff: no such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise SystemExit(f"bakeoff: {path} is not UTF-8 text (byte {exc.start})") from None
    try:
        return parse_json(text, what=str(path))
    except RequestValidationError as exc:
        problem = exc.details["errors"][0]
        raise SystemExit(f"bakeoff: {path}: {problem['field']}: {problem['message']}") from None


def requested_models(request: Any) -> list[str]:
    if not isinstance(request, dict):
        return []
    models = [m for m in request.get("models") or [] if isinstance(m, str)]
    judges = request.get("judges") or ([request["judgeModelId"]] if request.get("judgeModelId") else [])
    return models + [j for j in judges if isinstance(j, str)]


def deployment_parameters(local: bool) -> dict[str, Any]:
    """Offline, the AllowedModelIds parameter is the local catalog, or the Bedrock IDs Bakeoff
    knows when the run is pointed at another Converse endpoint."""
    from bakeoff.catalog import load_catalog

    catalog = load_catalog()
    if local:
        return {"AllowedModelIds": catalog.local_ids(), "JudgeModelId": DEFAULT_LOCAL_JUDGE}
    return {"AllowedModelIds": catalog.bedrock_ids()}


def prevalidate(root: Path, request: Any, local: bool, dataset: bytes | None = None) -> Exception | None:
    """The Validate state's own check, run before loading any model: a bad request costs nothing,
    not even the minute it takes to load the local models. The state machine checks again."""
    from bakeoff.errors import RequestValidationError
    from bakeoff.settings import Settings
    from bakeoff.validation import parse_dataset, validate_request
    from bakeoff_offline.template import read_stack

    spec = read_stack(root, parameters=deployment_parameters(local)).functions["ValidateFunction"]
    settings = Settings.from_env(spec.environment)
    try:
        items = parse_dataset(dataset, max_items=settings.MAX_DATASET_ITEMS) if dataset is not None else None
        validate_request(
            request, evaluation_id="preflight", created_at="1970-01-01T00:00:00+00:00", settings=settings, items=items
        )
    except RequestValidationError as exc:
        return exc
    return None


def upload_dataset(stack: Any, name: str, body: bytes) -> str:
    """Put the dataset in the local bucket, where the Validate state reads it as it would on AWS."""
    import hashlib

    key = f"datasets/{Path(name).stem}-{hashlib.sha256(body).hexdigest()[:8]}.jsonl"
    stack.s3.put_object(Bucket=stack.stack.bucket_name, Key=key, Body=body)
    return f"s3://{stack.stack.bucket_name}/{key}"


class Progress:
    """Prints what the state machine is doing, from the local Lambda API's start/finish events."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.lock = threading.Lock()
        self.running: dict[str, float] = {}
        self.dataset = False  # many items: print counts, not a line per call
        self.done = {"answers": 0, "failed": 0, "items": 0}

    def stamp(self) -> str:
        return f"[dim]{time.perf_counter() - self.started:6.1f}s[/dim]"

    def on_start(self, function: str, payload: Any) -> None:
        if self.dataset and function in ("InvokeModelFunction", "ScoreFunction"):
            return
        with self.lock:
            if function == "InvokeModelFunction":
                self.running[payload.get("modelId", "?")] = time.perf_counter()
                console.print(f"{self.stamp()}  {payload.get('modelId')}: answering …")
            elif function == "ScoreFunction":
                n = sum(1 for r in payload.get("results", []) if r.get("status") == "ok")
                console.print(f"{self.stamp()}  judging {n} answer(s) …")
            elif function == "ValidateFunction":
                console.print(f"{self.stamp()}  validating the request …")
            elif function == "ReportFunction":
                console.print(f"{self.stamp()}  writing the report …")

    def on_finish(self, done: Any) -> None:
        if self.dataset and done.function in ("InvokeModelFunction", "ScoreFunction"):
            with self.lock:
                key = "items" if done.function == "ScoreFunction" else ("failed" if done.error_type else "answers")
                self.done[key] += 1
                if done.function == "ScoreFunction" and (self.done["items"] % 10 == 0 or self.done["items"] < 3):
                    console.print(
                        f"{self.stamp()}  items scored: {self.done['items']} · answers: "
                        f"{self.done['answers']} ok, {self.done['failed']} failed"
                    )
            return
        with self.lock:
            if done.function == "InvokeModelFunction":
                model = done.payload.get("modelId", "?")
                self.running.pop(model, None)
                if done.error_type:
                    console.print(f"{self.stamp()}  [red]✗[/red] {model}: {done.error_type}")
                else:
                    r = done.result
                    usage = r.get("usage", {})
                    cached = " (from checkpoint)" if r.get("cached") else ""
                    console.print(
                        f"{self.stamp()}  [green]✓[/green] {model}: {usage.get('outputTokens', 0)} tokens "
                        f"in {done.seconds:.1f}s{cached}"
                    )
            elif done.function == "ScoreFunction" and not done.error_type:
                r = done.result
                console.print(
                    f"{self.stamp()}  [green]✓[/green] judged: {r.get('scored')} scored, "
                    f"{r.get('unscored')} unscored ({done.seconds:.1f}s)"
                )
            elif done.error_type and done.function != "InvokeModelFunction":
                console.print(f"{self.stamp()}  [red]✗[/red] {done.function}: {done.error_type}")

    def heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(20):
            with self.lock:
                waiting = ", ".join(self.running) or "the judge"
            console.print(f"{self.stamp()}  … still working ({waiting})")


def run(args: Namespace) -> int:
    from bakeoff_offline.endpoint import EndpointError, LocalEndpoint
    from bakeoff_offline.reports import write_index
    from bakeoff_offline.stack import OfflineStack

    if not args.verbose:
        # moto's interpreter logs every failed state with its whole parse tree; the summary says it better.
        logging.getLogger("moto").setLevel(logging.CRITICAL)
    request = load_event(args.event)
    dataset: bytes | None = None
    if args.dataset:
        try:
            dataset = args.dataset.read_bytes()
        except OSError as exc:
            raise SystemExit(f"bakeoff: cannot read the dataset {args.dataset}: {exc}") from None
        if isinstance(request, dict):
            # The dataset replaces the event's article; its S3 URI is filled in once the local bucket exists.
            request = {k: v for k, v in request.items() if k != "article"} | {
                "dataset": {"s3Uri": "s3://bakeoff-local/datasets/pending.jsonl"}
            }
    root = project_root()
    endpoint_url = os.environ.get(ENDPOINT_VAR)
    local = not endpoint_url
    models = requested_models(request)
    if local and isinstance(request, dict) and not request.get("judges") and not request.get("judgeModelId"):
        models.append(DEFAULT_LOCAL_JUDGE)
    local_models = [m for m in models if m.startswith("local.")]

    refusal = prevalidate(root, request, local, dataset)
    if refusal is not None:
        print_refusal(type(refusal).__name__, refusal.details, local=local)
        return 1

    console.print(f"[bold]Bakeoff[/bold] offline run of {args.event}")
    if local:
        console.print(
            "models: local, through llama.cpp (tiny models: their answers and judgments are weak; "
            "this shows the workflow, not which Bedrock model is best)"
        )
    else:
        console.print(f"models: through the Converse endpoint at {endpoint_url}")
    progress = Progress()
    stop = threading.Event()
    try:
        endpoint = LocalEndpoint(local_models) if local and local_models else None
        if endpoint:
            console.print(
                f"{progress.stamp()}  loading {len(local_models)} local model(s): {', '.join(local_models)} …"
            )
            endpoint_url = endpoint.__enter__()
            console.print(f"{progress.stamp()}  local Converse endpoint ready at {endpoint_url}")
        try:
            env = {ENDPOINT_VAR: endpoint_url} if endpoint_url else {}
            if not args.verbose:
                # The handlers' JSON logs and EMF metrics are for CloudWatch; the terminal gets progress.
                # Process-wide: Powertools reads these when it flushes, not only at import.
                quiet = {
                    "LOG_LEVEL": "WARNING",
                    "POWERTOOLS_LOG_LEVEL": "WARNING",
                    "POWERTOOLS_METRICS_DISABLED": "true",
                }
                os.environ.update(quiet)
                env |= quiet
            checkpoints = None if args.no_checkpoints else args.out / ".checkpoints"
            with OfflineStack(
                root, parameters=deployment_parameters(local), env=env, checkpoint_dir=checkpoints
            ) as stack:
                stack.lambda_server.on_start.append(progress.on_start)
                stack.lambda_server.on_finish.append(progress.on_finish)
                threading.Thread(target=progress.heartbeat, args=(stop,), daemon=True).start()
                if dataset is not None:
                    request["dataset"]["s3Uri"] = upload_dataset(stack, args.dataset.name, dataset)
                    progress.dataset = True
                execution = stack.run(request, timeout=args.timeout)
                if execution.succeeded:
                    folder = stack.download_reports(execution.evaluation_id, args.out)
        finally:
            stop.set()
            if endpoint:
                endpoint.__exit__()
    except EndpointError as exc:
        console.print(f"[red]bakeoff:[/red] {exc}")
        console.print("Install the local models with `make demo` (or see README: Offline models).")
        return 3

    if not execution.succeeded:
        details = execution.cause_json() or {}
        if execution.error in ("RequestValidationError", "BudgetExceededError"):
            print_refusal(execution.error, details, local=local)
            return 1
        console.print(f"[red]The evaluation failed[/red] ({execution.status}): {execution.error}")
        console.print(details.get("message") or execution.cause or "")
        return 3

    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    write_index(args.out)
    print_summary(report, folder, execution.seconds)
    if not args.no_open and sys.stdout.isatty() and not os.environ.get("CI"):
        try:
            webbrowser.open((folder / "report.html").resolve().as_uri())
        except webbrowser.Error:
            pass
    return 0
