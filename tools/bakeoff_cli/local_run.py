"""``bakeoff local run EVENT.json``: one real evaluation, offline, through the real state machine."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import webbrowser
from argparse import Namespace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.markup import escape

from bakeoff_cli.console import console, print_refusal, print_summary, say_error
from bakeoff_cli.exit_codes import Exit, outcome
from bakeoff_cli.paths import project_root
from bakeoff_cli.progress import Progress, Retries

ENDPOINT_VAR = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
DEFAULT_LOCAL_JUDGE = "local.qwen2-5-coder-1-5b-instruct-v1:0"
SERVER_DIED = "LocalModelServerDied"  # the error an execution is stopped with when the model server dies


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


def unreachable(endpoint_url: str) -> str | None:
    """Why nothing can answer at ``endpoint_url``, or None when something listens there. Checked before
    the run: an endpoint that refuses connections would otherwise be retried for every model."""
    parts = urlsplit(endpoint_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=5):
            return None
    except OSError as exc:
        return f"{exc.strerror or exc}"


def run(args: Namespace) -> int:
    """The whole ``local run`` command; its return value is the exit code (see ``exit_codes``)."""
    from bakeoff_offline.endpoint import EndpointError, LocalEndpoint, ModelServerDied
    from bakeoff_offline.stack import OfflineStack, patched_env

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

    try:
        # A gate that names what the request lacks, or a baseline that cannot be read, stops the run now.
        from bakeoff_cli.compare import GateCannotHold, prepare_gates

        gates, baseline = prepare_gates(args, request)
    except GateCannotHold as exc:
        say_error(f"not run: {exc}")
        return Exit.REFUSED_LOCAL
    except ValueError as exc:
        say_error(str(exc))
        return Exit.REFUSED
    refusal = prevalidate(root, request, local, dataset)
    if refusal is not None:
        print_refusal(type(refusal).__name__, refusal.details, local=local)
        return Exit.REFUSED_LOCAL
    if endpoint_url and (why := unreachable(endpoint_url)):
        say_error(
            f"nothing answered: no Converse endpoint at {endpoint_url} ({ENDPOINT_VAR}): {why}. "
            f"Start a server there, or unset {ENDPOINT_VAR} to run the local models."
        )
        return Exit.NO_ANSWERS

    console.print(f"[bold]Bakeoff[/bold] offline run of {escape(str(args.event))}")
    if local:
        console.print(
            "models: local, through llama.cpp (tiny models: their answers and judgments are weak; "
            "this shows the workflow, not which Bedrock model is best)"
        )
    else:
        console.print(f"models: through the Converse endpoint at {escape(endpoint_url or '')}")
    progress = Progress(console)
    stack_box: list[Any] = []

    def server_died(message: str) -> None:
        # Called from the endpoint's watcher thread: end the execution now, no Retry can bring it back.
        if stack_box:
            stack_box[0].abort(SERVER_DIED, message)

    try:
        endpoint = LocalEndpoint(local_models, on_death=server_died) if local and local_models else None
        if endpoint:
            console.print(
                f"{progress.stamp()}  loading {len(local_models)} local model(s): {', '.join(local_models)} …"
            )
            endpoint_url = endpoint.__enter__()
            console.print(f"{progress.stamp()}  local Converse endpoint ready at {endpoint_url}")
        quieted = contextlib.ExitStack()
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
                # Restored when the run ends: a caller in the same process (a test, a script) keeps its own.
                quieted.enter_context(patched_env(quiet))
                env |= quiet
            checkpoints = None if args.no_checkpoints else args.out / ".checkpoints"
            with OfflineStack(
                root, parameters=deployment_parameters(local), env=env, checkpoint_dir=checkpoints
            ) as stack:
                stack_box.append(stack)
                if endpoint and endpoint.death:  # died between READY and now
                    stack.abort(SERVER_DIED, endpoint.death)
                progress.retries = Retries(json.loads(stack.stack.definition()))
                stack.lambda_server.on_start.append(progress.on_start)
                stack.lambda_server.on_finish.append(progress.on_finish)
                progress.start(endpoint_url if endpoint else None)
                if dataset is not None:
                    request["dataset"]["s3Uri"] = upload_dataset(stack, args.dataset.name, dataset)
                    progress.dataset = True
                execution = stack.run(request, timeout=args.timeout)
                if execution.succeeded:
                    folder = stack.download_reports(execution.evaluation_id, args.out)
        finally:
            progress.stop()
            quieted.close()
            if endpoint:
                endpoint.__exit__()
    except EndpointError as exc:
        say_error(str(exc))
        if not isinstance(exc, ModelServerDied):
            console.print("Install the local models with `make demo` (or see README: Running offline).")
        return Exit.CRASHED

    if not execution.succeeded:
        details = execution.cause_json() or {}
        if execution.error in ("RequestValidationError", "BudgetExceededError"):
            print_refusal(execution.error, details, local=local)
            return Exit.REFUSED_LOCAL
        if execution.error == SERVER_DIED:
            say_error(execution.cause or "the local model server died")
            return Exit.CRASHED
        if execution.error == "OfflineTimeout":
            say_error(f"the evaluation did not finish within --timeout {args.timeout:g} s and was stopped")
            return Exit.TIMED_OUT
        say_error(f"the evaluation failed ({execution.status}): {execution.error}")
        console.print(escape(str(details.get("message") or execution.cause or "")))
        return Exit.CRASHED

    from bakeoff_offline.reports import write_index  # imports functions/ from the checkout (task_root)

    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    write_index(args.out)
    print_summary(report, folder, execution.seconds)
    code = outcome(report["totals"])
    if code == Exit.NO_ANSWERS:
        say_error("nothing answered: every candidate model failed (their errors are above and in the report)")
    elif code == Exit.NOT_JUDGED:
        say_error("the judge scored none of the answers (see judge health in the report): no ranking")
    elif gates or baseline is not None:
        from bakeoff_cli.compare import apply_gates, ranked

        held, blocked, _lines = apply_gates(
            gates, report, ranked(report), baseline, args.out, say=lambda line: console.print(escape(line))
        )
        code = Exit.UNHEALTHY_JUDGE if blocked else (Exit.OK if held else Exit.REGRESSED)
    if not args.no_open and sys.stdout.isatty() and not os.environ.get("CI"):
        try:
            webbrowser.open((folder / "report.html").resolve().as_uri())
        except webbrowser.Error:
            pass
    return code
