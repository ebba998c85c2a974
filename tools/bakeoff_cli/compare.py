"""``bakeoff compare A B``: did run B get worse than run A? And the ``--baseline RUN`` of ``submit`` and
``local run``.

A run is a ``report.json`` file, a report folder holding one, or an evaluation ID: looked up as
``<reports>/<ID>/report.json`` under ``--reports`` (default ``./out``, where ``local run`` writes), or,
with ``--api``/``--api-key`` (or ``$BAKEOFF_API_URL``/``$BAKEOFF_API_KEY``), fetched from the Bakeoff
API through the report's presigned URL. Standard library only, like ``submit``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bakeoff.compare import Comparison, compare_reports
from bakeoff.statistics import format_p
from bakeoff_cli.exit_codes import Exit

EVALUATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")


class RunNotFound(Exception):
    """A RUN argument that names no readable report."""


def _read_report(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunNotFound(f"{path}: not a readable report.json ({exc})") from None
    if not isinstance(report, dict) or "models" not in report:
        raise RunNotFound(f"{path}: not a Bakeoff report.json (no 'models')")
    return report


def resolve_run(spec: str, *, reports: Path | None = None, client: Any = None) -> dict[str, Any]:
    """The parsed report.json that ``spec`` names (a file, a folder, or an evaluation ID)."""
    path = Path(spec)
    if path.is_file():
        return _read_report(path)
    if path.is_dir():
        if (path / "report.json").is_file():
            return _read_report(path / "report.json")
        raise RunNotFound(f"{spec}: a folder without report.json")
    if not EVALUATION_ID.match(spec):
        raise RunNotFound(f"{spec}: no such file or folder, and not an evaluation ID")
    if reports is not None and (reports / spec / "report.json").is_file():
        return _read_report(reports / spec / "report.json")
    if client is not None:
        return _fetch(client, spec)
    where = f" under {reports}" if reports is not None else ""
    raise RunNotFound(
        f"{spec}: no report{where}; give a report.json, its folder, or --api and --api-key to "
        "fetch it from the Bakeoff API"
    )


def _fetch(client: Any, evaluation_id: str) -> dict[str, Any]:
    """The report.json of a finished evaluation, through the API's presigned URL (the key goes only to --api)."""
    try:
        status, body = client.request("GET", f"/evaluations/{quote(evaluation_id, safe='')}")
    except ConnectionError as exc:
        raise RunNotFound(f"{evaluation_id}: {exc}") from None
    if status != 200 or not isinstance(body, dict):
        message = body.get("message", "") if isinstance(body, dict) else ""
        raise RunNotFound(f"{evaluation_id}: the API answered {status} {message}".rstrip())
    if not body.get("reportJsonUrl"):
        raise RunNotFound(f"{evaluation_id}: {body.get('status')}, no report to compare with")
    try:
        req = urllib.request.Request(body["reportJsonUrl"], headers={"user-agent": "bakeoff-compare/1"})
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - a presigned URL from the API
            report = json.loads(resp.read())
    except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as exc:
        raise RunNotFound(f"{evaluation_id}: could not download its report.json: {exc}") from None
    if not isinstance(report, dict) or "models" not in report:
        raise RunNotFound(f"{evaluation_id}: the downloaded report.json is not a Bakeoff report")
    return report


def api_client(api: str | None, api_key: str | None) -> Any:
    """An API client when a URL and key are given (arguments first, then the environment), else None."""
    api = api or os.environ.get("BAKEOFF_API_URL")
    api_key = api_key or os.environ.get("BAKEOFF_API_KEY")
    if not (api and api_key):
        return None
    from bakeoff_cli.submit import ApiClient

    return ApiClient(api, api_key)


# --- output ---------------------------------------------------------------------------------------


def _num(value: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def _signed(value: float | None, fmt: str = "{:+.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def _test(change: Any) -> str:
    if not change.tested:
        return f"n={change.items}, " + (
            "no difference" if change.items >= 2 and change.improved == change.worsened == 0 else "no test"
        )
    p = format_p(change.wilcoxon_p) if change.wilcoxon_p is not None else "p -"
    ci = change.bootstrap_ci
    return f"n={change.items}, Wilcoxon {p}" + (f", CI [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "")


def text_lines(comparison: Comparison) -> list[str]:
    """The comparison for a terminal: one line per model and criterion, then flips, costs, latencies."""
    a, b = comparison.a, comparison.b
    lines = [
        f"before: {a.evaluation_id}" + (f" ({a.title})" if a.title else ""),
        f"after:  {b.evaluation_id}" + (f" ({b.title})" if b.title else ""),
    ]
    for run, label in ((a, "before"), (b, "after")):
        if run.judge_health_failed:
            lines.append(f"warning: the {label} run's judge health check failed; its scores are doubtful")
    lines.append(f"  {'model':<44}{'criterion':<14}{'before':>8}{'after':>8}{'change':>8}  {'paired test':<44}verdict")
    for c in comparison.changes:
        lines.append(
            f"  {comparison.name(c.model_id)[:43]:<44}{c.criterion[:13]:<14}{_num(c.before):>8}"
            f"{_num(c.after):>8}{_signed(c.delta):>8}  {_test(c)[:43]:<44}{c.verdict()}"
        )
    for model_id in comparison.only_a:
        lines.append(f"  only in the before run: {model_id}")
    for model_id in comparison.only_b:
        lines.append(f"  only in the after run: {model_id}")
    if comparison.flips:
        lines.append(f"items whose best model changed: {len(comparison.flips)}")
        for flip in comparison.flips[:20]:
            lines.append(f"  {flip.item_id}: {', '.join(flip.before)} -> {', '.join(flip.after)}")
    for model_id, delta in comparison.cost_delta_usd.items():
        latency = comparison.latency_delta_ms.get(model_id)
        lines.append(
            f"  {comparison.name(model_id)[:43]:<44}cost {_signed(delta, '{:+.6f}')} USD, "
            f"latency {_signed(latency, '{:+.0f}')} ms"
        )
    worse = comparison.worse
    if worse:
        lines.append(
            "significantly worse: "
            + ", ".join(
                f"{comparison.name(c.model_id)} on {c.criterion} ({c.delta:+.2f}, {c.figures()})" for c in worse
            )
        )
    elif not any(c.significant for c in comparison.changes):
        lines.append("no significant change")
    return lines


def markdown(comparison: Comparison, gate_lines: list[tuple[bool, str]] | None = None) -> str:
    """The comparison as a Markdown table (a pull-request comment, the job summary)."""
    a, b = comparison.a, comparison.b
    out = [f"### Bakeoff: `{b.evaluation_id}` against the baseline `{a.evaluation_id}`", ""]
    for run, label in ((a, "baseline"), (b, "new")):
        if run.judge_health_failed:
            out.append(f"> :warning: the {label} run's judge health check failed: its scores are doubtful.")
    out += [
        "| model | criterion | before | after | change | paired test | verdict |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for c in comparison.changes:
        verdict = c.verdict()
        out.append(
            f"| {_md(comparison.name(c.model_id))} | {c.criterion} | {_num(c.before)} | {_num(c.after)} | "
            f"{_signed(c.delta)} | {_test(c)} | {'**' + verdict + '**' if c.significant else verdict} |"
        )
    out.append("")
    costs = [
        f"{_md(comparison.name(m))}: cost {_signed(d, '{:+.6f}')} USD, latency "
        f"{_signed(comparison.latency_delta_ms.get(m), '{:+.0f}')} ms"
        for m, d in comparison.cost_delta_usd.items()
    ]
    out += [f"- {line}" for line in costs]
    if comparison.flips:
        out.append(
            f"- items whose best model changed: {len(comparison.flips)} "
            f"({', '.join(f.item_id for f in comparison.flips[:10])}"
            f"{', ...' if len(comparison.flips) > 10 else ''})"
        )
    if comparison.only_a or comparison.only_b:
        out.append(
            f"- only in the baseline: {', '.join(comparison.only_a) or '-'}; only in the new run: "
            f"{', '.join(comparison.only_b) or '-'}"
        )
    if not any(c.significant for c in comparison.changes):
        out.append("- no significant change")
    if gate_lines:
        out += ["", "**Gates**", ""] + [f"- {'PASS' if ok else 'FAIL'} {_md(line)}" for ok, line in gate_lines]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def compare(args: argparse.Namespace) -> int:
    """The ``compare`` command: exit 0 when no model got significantly worse, else ``Exit.REGRESSED``."""
    client = api_client(args.api, args.api_key)
    try:
        before = resolve_run(args.before, reports=args.reports, client=client)
        after = resolve_run(args.after, reports=args.reports, client=client)
    except RunNotFound as exc:
        print(f"bakeoff compare: {exc}", flush=True)
        return Exit.REFUSED
    comparison = compare_reports(before, after)
    for line in text_lines(comparison):
        print(line)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(comparison), encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(comparison.dump(), indent=2), encoding="utf-8")
    return Exit.REGRESSED if comparison.worse else Exit.OK


# --- --baseline and the gates of submit / local run -----------------------------------------------


class GateCannotHold(ValueError):
    """A gate names a criterion or model the request (or the baseline) does not have: it could only fail,
    so it fails before the request is sent (exit 1 in both commands: submit's "a gate failed", local
    run's "refused before any model was called")."""


def prepare_gates(args: argparse.Namespace, request: Any, client: Any = None) -> tuple[Any, dict[str, Any] | None]:
    """The gates and the baseline report, checked against the request before anything is paid for.
    Raises ValueError for a malformed option or an unreadable baseline (the command line is wrong),
    GateCannotHold with every problem when a gate names what the request or baseline lacks."""
    from bakeoff_cli.gates import Gates

    gates = Gates.parse(
        getattr(args, "min_score", []) or [],
        getattr(args, "max_regression", []) or [],
        allow_unhealthy_judge=getattr(args, "allow_unhealthy_judge", False),
    )
    baseline = None
    if getattr(args, "baseline", None):
        try:
            # An evaluation ID is looked up where this command writes its reports unless --reports says otherwise.
            reports = getattr(args, "reports", None) or getattr(args, "out", None)
            baseline = resolve_run(args.baseline, reports=reports, client=client)
        except RunNotFound as exc:
            raise ValueError(f"--baseline {exc}") from None
    elif gates.max_regressions:
        raise ValueError("--max-regression needs --baseline RUN (the run to compare with)")
    problems = gates.check_against_request(request, baseline=baseline)
    if problems:
        raise GateCannotHold("; ".join(problems))
    return gates, baseline


def ranked(report: dict[str, Any]) -> list[dict[str, Any]]:
    """report.json's scored models, best first (what --min-score reads)."""
    return sorted((m for m in report.get("models") or [] if "rank" in m), key=lambda m: m["rank"])


def apply_gates(
    gates: Any,
    report: dict[str, Any] | None,
    ranking: list[Any],
    baseline: dict[str, Any] | None,
    out_dir: Path,
    *,
    say: Any = print,
) -> tuple[bool, bool, list[tuple[bool, str]]]:
    """Compare with the baseline (printed, and written to OUT/compare.md and compare.json), then the gates.
    Returns (every gate held, the judge health blocked them, the gate lines)."""
    comparison = compare_reports(baseline, report) if baseline is not None and report is not None else None
    if comparison is not None:
        for line in text_lines(comparison):
            say(line)
    held, blocked, lines = gates.evaluate(report, ranking, comparison) if gates else (True, False, [])
    for ok, line in lines:
        say(f"gate {'PASS' if ok else 'FAIL'} {line}")
    if comparison is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        text = markdown(comparison, lines)
        (out_dir / "compare.md").write_text(text, encoding="utf-8")
        (out_dir / "compare.json").write_text(
            json.dumps(comparison.dump() | {"gates": [{"passed": ok, "line": line} for ok, line in lines]}, indent=2),
            encoding="utf-8",
        )
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(text + "\n")
    return held, blocked, lines
