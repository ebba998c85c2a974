"""``bakeoff local serve``: the HTTP API on this machine, as API Gateway would serve it.

The offline stack (moto's S3 and Step Functions running the real ASL, the real handlers behind a local
Lambda Invoke API) runs in this process; ``LocalApi`` stands in front of it with API keys, the
usage plan's throttle and quota, and the request validator, all read from ``template.yaml``. Model
calls go to the Converse endpoint given by ``--converse-url`` (``python -m converse_local serve``
for the local models, or any Bedrock-Converse-compatible server).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bakeoff_offline.local_api import AccessLogLine, LocalApi, load_config
from bakeoff_offline.template import load_template, read_stack

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def project_root(start: Path | None = None) -> Path:
    """The folder holding template.yaml: the working directory or one above it, else this checkout."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "template.yaml").is_file():
            return folder
    return Path(__file__).resolve().parents[2]


def parameter_overrides(root: Path, pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as template parameters (a CommaDelimitedList value splits on commas)."""
    declared = load_template(root / "template.yaml").get("Parameters", {})
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in declared:
            raise ValueError(f"--parameter {pair!r}: expected NAME=VALUE, NAME one of {', '.join(declared)}")
        if declared[name].get("Type") == "CommaDelimitedList":
            out[name] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            out[name] = value
    return out


def _print_access(line: AccessLogLine) -> None:
    # The access log API Gateway would write: who (key name, never the key), what, how it ended.
    extra = f" {line.gateway_error}" if line.gateway_error else ""
    print(
        f"{line.method} {line.path} {line.status}{extra} key={line.key_name or '-'} {line.seconds * 1000:.0f}ms",
        file=sys.stderr,
        flush=True,
    )


def local_parameters() -> dict[str, Any]:
    """The template parameters of a stack whose models are the local ones (as `bakeoff local run` sets)."""
    from bakeoff_cli.local_run import deployment_parameters

    return deployment_parameters(local=True)


def installed_local_models() -> list[str]:
    from converse_local import catalog

    return [model_id for model_id in catalog.MODELS if catalog.is_installed(model_id)]


def serve(
    args: argparse.Namespace, *, ready: Callable[[str], None] | None = None, stop: threading.Event | None = None
) -> int:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set, for callers running this in a thread).

    Without ``--converse-url`` (or AWS_ENDPOINT_URL_BEDROCK_RUNTIME), the installed local models answer,
    from a local endpoint started here; should it die, serving stops (exit 3) with what happened."""
    from bakeoff_offline.endpoint import EndpointError, LocalEndpoint

    converse_url = getattr(args, "converse_url", None) or os.environ.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")
    root = project_root()
    try:
        parameters = {} if converse_url else local_parameters()
        parameters |= parameter_overrides(root, getattr(args, "parameter", []) or [])
        # Checked before anything starts: an API without a key is refused, not served open.
        load_config(read_stack(root, parameters=parameters), api_keys=args.api_key, config_file=args.config)
    except (ValueError, KeyError, OSError) as exc:
        print(f"bakeoff local serve: {exc}", file=sys.stderr)
        return 2
    models = [] if converse_url else installed_local_models()
    if not converse_url and not models:
        print(
            "bakeoff local serve: no local model is installed (`make demo` installs them); or give "
            "--converse-url URL of a Converse endpoint",
            file=sys.stderr,
        )
        return 2
    if args.host not in _LOOPBACK:
        print(
            f"bakeoff local serve: listening on {args.host}, reachable from other machines; the API keys "
            "are all that stands between them and your model endpoint",
            file=sys.stderr,
        )

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    deaths: list[str] = []
    with contextlib.ExitStack() as resources:
        if not converse_url:
            # Loaded on first use, so the API is up at once; a dead model server stops the API.
            endpoint = LocalEndpoint(
                models, preload=False, on_death=lambda message: (deaths.append(message), stop.set())
            )
            try:
                converse_url = endpoint.__enter__()
            except EndpointError as exc:
                print(f"bakeoff local serve: {exc}", file=sys.stderr)
                return 3
            resources.callback(endpoint.__exit__)
            print(f"models: {', '.join(models)}, local, at {converse_url}", file=sys.stderr)
        _serve(args, root, parameters, converse_url, ready, stop)
    if deaths:
        print(f"bakeoff local serve: {deaths[0]}", file=sys.stderr)
        return 3
    return 0


def _serve(
    args: argparse.Namespace,
    root: Path,
    parameters: dict[str, Any],
    converse_url: str,
    ready: Callable[[str], None] | None,
    stop: threading.Event,
) -> None:
    from bakeoff_offline.stack import OfflineStack

    scale = float(getattr(args, "retry_time_scale", 1.0) or 1.0)
    with OfflineStack(
        root,
        parameters=parameters,
        env={"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": converse_url},
        retry_time_scale=scale,
        state_dir=getattr(args, "state_dir", None),
    ) as offline:
        config = load_config(offline.stack, api_keys=args.api_key, config_file=args.config)
        api = LocalApi.for_offline_stack(offline, config, host=args.host, port=args.port)
        api.on_access.append(_print_access)
        with api:
            for key in config.keys:
                quota = f"{key.quota_limit}/{key.quota_period}" if key.quota_limit else "no quota"
                print(
                    f"key {key.name} (apiKeyId {key.key_id}): {key.rate_limit:g} req/s, "
                    f"burst {key.burst_limit}, {quota}",
                    file=sys.stderr,
                )
            print(f"READY {api.url}", flush=True)
            if ready:
                ready(api.url)
            while not stop.wait(0.2):
                pass
