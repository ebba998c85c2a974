"""``bakeoff submit``: the CI trigger. Post a request, wait, print the ranking, fetch the report, gate.

Standard library only (and ``bakeoff.jsontext``, ``bakeoff.compare`` and ``bakeoff.statistics``, which
are too), so a CI job needs nothing but ``pip install`` of this package without extras. Exit codes:

- 0: accepted (and, when waiting, at least one model was scored and every gate held)
- 1: a ``--min-score`` or ``--max-regression`` gate failed (``bakeoff_cli.gates``)
- 2: the request was refused (400/403/...) or the command line is wrong
- 3: the evaluation ended FAILED, TIMED_OUT or ABORTED
- 4: ``--fail-on-error`` and at least one model failed
- 5: ``--timeout`` passed before the evaluation ended
- 6: no candidate answered (every model failed); the report is still downloaded
- 7: the candidates answered but the judge scored none of them; the report is still downloaded
- 9: gates were given but the judge health check failed (``--allow-unhealthy-judge`` overrides)

(``bakeoff_cli.exit_codes`` holds the table for both commands.)

The API key goes only to the ``--api`` host: the status is polled at ``--api``/evaluations/<id>
(never at a URL the server names), and the presigned report URLs are fetched without it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bakeoff.errors import RequestValidationError
from bakeoff.jsontext import dump_utf8, parse_json
from bakeoff_cli.exit_codes import Exit

# The names this module has always used, kept for scripts and tests that import them.
EXIT_OK, EXIT_GATE, EXIT_REFUSED, EXIT_FAILED = Exit.OK, Exit.GATE_FAILED, Exit.REFUSED, Exit.CRASHED
EXIT_MODEL_ERRORS, EXIT_TIMEOUT, EXIT_NO_ANSWERS, EXIT_NOT_JUDGED = (
    Exit.MODEL_ERRORS,
    Exit.TIMED_OUT,
    Exit.NO_ANSWERS,
    Exit.NOT_JUDGED,
)
DONE = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
MAX_POLL_SECONDS = 20.0
USER_AGENT = "bakeoff-submit/1"


class ApiClient:
    """JSON over HTTPS with the API key; retries what a retry can fix (429, 5xx, connection errors)."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30, attempts: int = 5) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.attempts = attempts

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        # UTF-8 as it is: a 50,000-character CJK article escaped as \uXXXX would be twice the API's limit.
        data = dump_utf8(body) if body is not None else None
        delay = 1.0
        for attempt in range(1, self.attempts + 1):
            req = urllib.request.Request(
                self.base_url + path,
                data=data,
                method=method,
                headers={
                    "x-api-key": self.api_key,
                    "content-type": "application/json",
                    "accept": "application/json",
                    "user-agent": USER_AGENT,
                },
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - https or local
                    return resp.status, _json(resp.read())
            except urllib.error.HTTPError as exc:
                payload = _json(exc.read())
                if exc.code not in (429, 500, 502, 503, 504) or attempt == self.attempts:
                    return exc.code, payload
                delay = _retry_after(exc.headers.get("Retry-After"), delay)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.attempts:
                    raise ConnectionError(f"{method} {self.base_url}{path}: {exc}") from exc
            time.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, MAX_POLL_SECONDS)
        raise AssertionError("unreachable")


def _json(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return {"message": data[:300].decode("utf-8", "replace")}


def _retry_after(header: str | None, default: float) -> float:
    try:
        return max(0.1, min(float(header), 300.0)) if header else default
    except ValueError:
        return default


def _say(message: str) -> None:
    print(f"bakeoff: {message}", flush=True)


def print_refusal(status: int, body: Any) -> None:
    body = body if isinstance(body, dict) else {}
    _say(f"refused ({status}): {body.get('message', '')}")
    for error in body.get("errors") or []:
        print(f"  {error.get('field')}: {error.get('message')}", flush=True)


def poll(client: ApiClient, evaluation_id: str, *, timeout: float, interval: float) -> dict[str, Any] | None:
    """The status once the evaluation is done, polling with backoff; None on timeout."""
    deadline = time.monotonic() + timeout
    path = f"/evaluations/{quote(evaluation_id, safe='')}"
    last = None
    while True:
        status, body = client.request("GET", path)
        if status != 200:
            raise ConnectionError(f"GET {path} answered {status}: {(body or {}).get('message', '')}")
        if body["status"] != last:
            _say(f"{evaluation_id} {body['status']}")
            last = body["status"]
        if body["status"] in DONE:
            return body
        if time.monotonic() + interval > deadline:
            return None
        time.sleep(interval * random.uniform(0.8, 1.2))
        interval = min(interval * 1.5, MAX_POLL_SECONDS)


def print_ranking(summary: dict[str, Any]) -> None:
    ranking = summary.get("ranking") or []
    criteria = sorted({name for row in ranking for name in row.get("scores", {})})
    columns = "".join(f"{c[:12]:>13}" for c in criteria)
    print(f"  {'rank':<5}{'model':<46}{'weighted':>9}{columns}{'cost':>11}")
    for row in ranking:
        weighted = "-" if row.get("weightedScore") is None else f"{row['weightedScore']:.2f}"
        cells = "".join(f"{row.get('scores', {}).get(c, '-'):>13}" for c in criteria)
        cost = "-" if row.get("costUsd") is None else f"${row['costUsd']:.4f}"
        print(f"  {row['rank']:<5}{row['modelId'][:45]:<46}{weighted:>9}{cells}{cost:>11}")
    for model_id in summary.get("unscored") or []:
        print(f"  unscored: {model_id}")
    for failed in summary.get("failed") or []:
        print(f"  failed:   {failed['modelId']} ({failed['error']}: {failed.get('message', '')[:120]})")
    costs = summary.get("costs") or {}
    if costs.get("totalUsd") is not None:
        estimated = costs.get("estimatedUsd")
        estimate = f" (estimated ${estimated:.4f})" if estimated is not None else ""
        print(f"  total cost ${costs['totalUsd']:.4f}{estimate}")


def download_reports(status: dict[str, Any], out_dir: Path) -> Path | None:
    """Fetch report.html, report.json and the exports through their presigned URLs (no API key: they need
    none); the folder then holds what `local run --out` writes."""
    target = Path(out_dir) / status["evaluationId"]
    target.mkdir(parents=True, exist_ok=True)
    saved = None
    for field, name in (
        ("reportUrl", "report.html"),
        ("reportJsonUrl", "report.json"),
        ("resultsCsvUrl", "results.csv"),
        ("resultsJsonlUrl", "results.jsonl"),
    ):
        url = status.get(field)
        if not url:
            continue
        try:
            req = urllib.request.Request(url, headers={"user-agent": USER_AGENT})
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - a presigned https URL
                (target / name).write_bytes(resp.read())
                saved = target
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            _say(f"could not download {name}: {exc}")
    return saved


def _saved_report(folder: Path | None) -> dict[str, Any] | None:
    """The downloaded report.json (judge health, per-item scores for --baseline), or None."""
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8")) if folder else None
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def _step_summary(status: dict[str, Any], gate_lines: list[str]) -> None:
    """A Markdown table in the GitHub Actions job summary, when running there."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    summary = status.get("summary") or {}
    lines = [
        f"### Bakeoff {status['evaluationId']}: {status['status']}",
        "",
        "| rank | model | weighted | cost |",
        "|---|---|---|---|",
    ]
    for row in summary.get("ranking") or []:
        lines.append(f"| {row['rank']} | `{row['modelId']}` | {row.get('weightedScore')} | {row.get('costUsd')} |")
    lines += [""] + [f"- {line}" for line in gate_lines] + [""]
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def submit(args: argparse.Namespace) -> int:
    from bakeoff_cli.compare import GateCannotHold, apply_gates, prepare_gates

    client = ApiClient(args.api, args.api_key)
    try:
        # Read as strictly as the API reads the body, and refused here as the API would refuse it.
        request = parse_json(Path(args.event).read_text(encoding="utf-8"), what=str(args.event))
        dump_utf8(request)
        # A gate naming a criterion or model the request lacks, or a baseline that cannot be read,
        # is refused now: after the run it could only fail, and the run would be paid for.
        gates, baseline = prepare_gates(args, request, client)
    except RequestValidationError as exc:
        _say(f"not sent: {exc.message}")
        for error in exc.details.get("errors") or []:
            print(f"  {error['field']}: {error['message']}", flush=True)
        return EXIT_REFUSED
    except GateCannotHold as exc:
        _say(f"not sent: {exc}")
        return EXIT_GATE
    except (ValueError, OSError) as exc:
        _say(f"not sent: {exc}")
        return EXIT_REFUSED
    try:
        status, body = client.request("POST", "/evaluations", request)
        if status != 202:
            print_refusal(status, body)
            return EXIT_REFUSED
        evaluation_id = body["evaluationId"]
        _say(f"accepted {evaluation_id} (estimated ${body.get('estimatedCostUsd', 0):.4f})")
        for warning in body.get("warnings") or []:
            _say(f"warning: {warning}")
        if not (args.wait or gates or args.fail_on_error or baseline):
            return EXIT_OK
        interval = getattr(args, "poll_interval", 2.0)
        final = poll(client, evaluation_id, timeout=args.timeout, interval=interval)
    except ConnectionError as exc:
        _say(str(exc))
        return EXIT_REFUSED
    if final is None:
        _say(f"{evaluation_id} still running after {args.timeout:g} s; it goes on, this job stops waiting")
        return EXIT_TIMEOUT
    if final["status"] != "SUCCEEDED":
        error = final.get("error") or {}
        _say(f"{evaluation_id} {final['status']}: {error.get('error', '')}: {error.get('cause', '')[:500]}")
        for item in error.get("errors") or []:
            print(f"  {item.get('field')}: {item.get('message')}")
        _step_summary(final, [f"evaluation {final['status']}"])
        return EXIT_FAILED

    summary = final.get("summary") or {}
    print_ranking(summary)
    saved = download_reports(final, args.out)
    if saved:
        _say(f"report: {saved / 'report.html'}")
    ranking = summary.get("ranking") or []
    if not ranking:
        # Nothing was scored: no gate can hold, and without gates this is still no result to pass on.
        answered = summary.get("unscored") or []
        code = EXIT_NOT_JUDGED if answered else EXIT_NO_ANSWERS
        _say(
            "the judge scored none of the answers: no ranking"
            if answered
            else "nothing answered: every candidate model failed"
        )
        _step_summary(final, ["no model was scored"])
        return code
    report = _saved_report(saved)
    held, blocked, results = apply_gates(gates, report, ranking, baseline, Path(args.out), say=_say)
    failed_models = summary.get("failed") or []
    _step_summary(final, [f"{'PASS' if ok else 'FAIL'} {line}" for ok, line in results])
    if blocked:
        return Exit.UNHEALTHY_JUDGE
    if not held:
        return EXIT_GATE
    if args.fail_on_error and failed_models:
        _say(f"{len(failed_models)} model(s) failed: {', '.join(m['modelId'] for m in failed_models)}")
        return EXIT_MODEL_ERRORS
    return EXIT_OK
