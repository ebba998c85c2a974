"""``bakeoff`` entry point. Each subcommand lives in its own module, imported only when used, so
``bakeoff submit`` in a CI job does not pay for moto or llama.cpp."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from pathlib import Path

from bakeoff_cli.exit_codes import HELP as EXIT_CODES
from bakeoff_cli.exit_codes import Exit


def _add_gates(parser: argparse.ArgumentParser, *, min_score_help: str) -> None:
    """The gate options ``submit`` and ``local run`` share (``bakeoff_cli.gates``)."""
    parser.add_argument(
        "--min-score", action="append", default=[], metavar="[MODEL:]CRITERION=VALUE", help=min_score_help
    )
    parser.add_argument(
        "--baseline",
        metavar="RUN",
        help="compare with this run: a report.json, its folder, or an evaluation ID (looked up "
        "under --reports, or through the API); prints the comparison and writes compare.md/.json",
    )
    parser.add_argument(
        "--max-regression",
        action="append",
        default=[],
        metavar="[MODEL:]CRITERION=DROP",
        help="with --baseline: fail when a model (or MODEL) lost more than DROP on CRITERION "
        "(or 'weighted') and the paired test says the drop is significant",
    )
    parser.add_argument(
        "--allow-unhealthy-judge", action="store_true", help="let gates pass although the judge health check failed"
    )
    parser.add_argument(
        "--reports", type=Path, help="where evaluation IDs given to --baseline are looked up first (default: --out)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bakeoff",
        description="LLM bake-offs: many models answer, a judge "
        "scores, a report ranks them. `bakeoff local ...` runs it all offline.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser("local", help="run the stack on this machine (no AWS, no Docker, no network)")
    local_sub = local.add_subparsers(dest="local_command", required=True)

    run = local_sub.add_parser(
        "run",
        help="run one evaluation through the real state machine, offline",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "event", type=Path, help="an evaluation request (JSON), e.g. events/statemachine/podcast-local.json"
    )
    run.add_argument("--out", type=Path, default=Path("out"), help="where reports go (default: ./out)")
    run.add_argument("--dataset", type=Path, help="JSONL of {id, article, reference?}: one evaluation per line")
    run.add_argument("--no-open", action="store_true", help="do not try to open the report in a browser")
    run.add_argument("--timeout", type=float, default=3600, help="seconds before the run is stopped")
    run.add_argument("--verbose", action="store_true", help="show the handlers' logs and metrics too")
    run.add_argument(
        "--no-checkpoints",
        action="store_true",
        help="neither reuse nor keep the answers and verdicts in OUT/.checkpoints (a rerun of the "
        "same request otherwise calls no model that already answered)",
    )
    _add_gates(
        run,
        min_score_help="fail (exit 8) unless the best model (or MODEL) scores at least VALUE (criterion or 'weighted')",
    )

    invoke = local_sub.add_parser("invoke", help="run one function in-process (the Docker-free `sam local invoke`)")
    invoke.add_argument("function", help="the function's logical ID in template.yaml, e.g. ValidateFunction")
    invoke.add_argument("-e", "--event", type=Path, required=True, help="event JSON, e.g. events/validate/valid.json")

    sam_env = local_sub.add_parser(
        "sam-env", help="write the --env-vars file and endpoint template for `sam local invoke` against local services"
    )
    sam_env.add_argument("--build-dir", type=Path, default=Path(".aws-sam/build"), help="where `sam build` wrote")
    sam_env.add_argument("--bucket", default="bakeoff-local", help="the bucket the functions use")
    sam_env.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="SERVICE=URL",
        help="s3=, bedrock-runtime= or stepfunctions= a local endpoint (repeatable)",
    )
    sam_env.add_argument("--out", type=Path, default=Path("env.json"), help="the --env-vars file to write")
    sam_env.add_argument(
        "--seed", action="store_true", help="create the bucket at the s3 endpoint and put events/bucket/ in it"
    )

    serve = local_sub.add_parser("serve", help="serve the HTTP API offline, with API keys and throttling")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        help="an accepted API key, at least 20 characters as in API Gateway (repeatable)",
    )
    serve.add_argument("--config", type=Path, help="JSON file with keys and per-key throttle/quota")
    serve.add_argument(
        "--converse-url",
        help="the Converse endpoint models are called at (default: $AWS_ENDPOINT_URL_BEDROCK_RUNTIME, "
        "else the installed local models, started here)",
    )
    serve.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a template parameter, e.g. AllowedModelIds=local.a,local.b",
    )
    serve.add_argument(
        "--state-dir",
        type=Path,
        default=Path("out/serve"),
        help="where every evaluation, report and checkpoint is kept as it is written, so a restarted server "
        "finds them again (default: ./out/serve)",
    )
    serve.add_argument(
        "--retry-time-scale",
        type=float,
        default=1.0,
        help="scale the state machine's Retry waits (tests: 0.01; default 1, as on AWS)",
    )

    submit = sub.add_parser(
        "submit",
        help="post a request to a Bakeoff API, wait, and gate on the scores (for CI)",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    submit.add_argument("event", type=Path)
    submit.add_argument("--api", required=True, help="the API's base URL")
    submit.add_argument("--api-key", required=True)
    submit.add_argument("--wait", action="store_true", help="poll until the evaluation ends")
    _add_gates(
        submit, min_score_help="fail unless the best model (or MODEL) scores at least VALUE (criterion or 'weighted')"
    )
    submit.add_argument("--fail-on-error", action="store_true", help="fail when any model failed")
    submit.add_argument("--out", type=Path, default=Path("out"), help="where the report is downloaded")
    submit.add_argument("--timeout", type=float, default=1800)
    submit.add_argument(
        "--poll-interval",
        type=float,
        default=2.0,
        help="seconds before the first status poll; then x1.5 per poll, at most 20",
    )

    compare = sub.add_parser(
        "compare",
        help="compare two runs: per model and criterion the change, with a paired test over shared items",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("before", help="the baseline run: a report.json, its folder, or an evaluation ID")
    compare.add_argument("after", help="the run to check against it (same forms)")
    compare.add_argument(
        "--reports", type=Path, default=Path("out"), help="where evaluation IDs are looked up first (default: ./out)"
    )
    compare.add_argument("--api", help="a Bakeoff API to fetch evaluation IDs from (default: $BAKEOFF_API_URL)")
    compare.add_argument("--api-key", help="its API key (default: $BAKEOFF_API_KEY)")
    compare.add_argument("--markdown", type=Path, help="also write the comparison as a Markdown table here")
    compare.add_argument("--json", type=Path, help="also write the comparison as JSON here")
    estimate = sub.add_parser(
        "estimate",
        help="quote a request before running it: tokens, dollars (on demand, "
        "batch, cached), Step Functions, Lambda and wall time on AWS",
    )
    estimate.add_argument("event", type=Path, help="the request (JSON), as for `local run` or `submit`")
    estimate.add_argument("--dataset", type=Path, help="a JSONL dataset (one {id, article, reference?} a line)")
    estimate.add_argument(
        "--tokens-per-minute",
        type=int,
        help="Bedrock's quota per model (default: the template's ModelTokensPerMinute; 0 = none)",
    )
    estimate.add_argument(
        "--tokens-per-second",
        type=float,
        default=50.0,
        help="assumed output speed of every model, for the times (default 50)",
    )
    estimate.add_argument("--dataset-concurrency", type=int, help="items at once (default: the deployment's)")
    estimate.add_argument("--json", action="store_true", help="print the quote as JSON")
    models = sub.add_parser("models", help="list the model catalog: prices, limits, tool use and caching")
    models.add_argument("--json", action="store_true", help="the catalog entries as JSON, sources included")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command; an unexpected exception is a crash (exit 3), never mistaken for a refusal (1)."""
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except (SystemExit, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence: say what broke, exit "crashed"
        traceback.print_exc()
        print(
            f"bakeoff crashed: {type(exc).__name__}: {exc}. This is a bug in Bakeoff: please report it with "
            "the traceback above.",
            file=sys.stderr,
        )
        return Exit.CRASHED


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "local" and args.local_command == "run":
        from bakeoff_cli.local_run import run

        return run(args)
    if args.command == "local" and args.local_command == "invoke":
        from bakeoff_cli.local_invoke import invoke

        return invoke(args)
    if args.command == "local" and args.local_command == "sam-env":
        from bakeoff_cli.sam_local import sam_env

        return sam_env(args)
    if args.command == "local" and args.local_command == "serve":
        from bakeoff_cli.serve import serve

        return serve(args)
    if args.command == "submit":
        from bakeoff_cli.submit import submit

        return submit(args)
    if args.command == "compare":
        from bakeoff_cli.compare import compare

        return compare(args)
    if args.command == "estimate":
        from bakeoff_cli.quote import estimate_command

        return estimate_command(args)
    if args.command == "models":
        from bakeoff_cli.catalog_list import models_command

        return models_command(args)
    return 2


def cli() -> None:
    """The ``bakeoff`` console script: ``main()``, then exit without the interpreter's teardown.

    After ``local run`` the process holds moto's in-memory backends and every handler module; Python's
    teardown frees them object by object (0.6 s measured on a 20-item dataset) only for the OS to
    reclaim the memory anyway. By the time ``main()`` returns every file is written and closed.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    cli()
