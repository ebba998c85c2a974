"""Terminal output: the summary table after a run, and a refused request's field errors.

Everything that comes from a request, a model or an error is passed through ``escape`` before it meets
rich: a request key such as ``[/x]`` would otherwise be read as markup (a MarkupError, or a regex in an
error message losing its ``[...]`` classes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(highlight=False)


def wide() -> Console:
    """A console at least 190 columns wide: tables of one row per model, never wrapped, even in a pipe."""
    return Console(highlight=False, width=max(console.width, 190))


def say_error(message: str) -> None:
    """One line (or a few) on what went wrong; the message is shown as written, never as markup."""
    console.print(f"[red]bakeoff:[/red] {escape(message)}", soft_wrap=True)


def _usd(value: float | None) -> str:
    if value is None:
        return "–"
    return "$0" if value == 0 else f"${value:,.4f}"


def print_summary(report: dict[str, Any], folder: Path, seconds: float) -> None:
    table = Table(title=f"Bakeoff {escape(report['evaluationId'])}", title_justify="left")
    for column, justify in (
        ("#", "right"),
        ("model", "left"),
        ("status", "left"),
        ("weighted score", "right"),
        ("tokens in/out", "right"),
        ("latency", "right"),
        ("cost", "right"),
    ):
        table.add_column(column, justify=justify)
    for m in report["models"]:
        status = m["status"] if m["status"] == "failed" else m.get("scoreStatus", m["status"])
        style = {"failed": "red", "unscored": "yellow"}.get(status, "green")
        usage = m.get("usage") or {}
        score = m.get("weightedScore")
        tie = " (tie)" if m.get("tie") else ""
        table.add_row(
            str(m.get("rank", "–")),
            escape(m.get("name") or m["modelId"]),
            f"[{style}]{status}[/{style}]",
            (f"{score:.2f}" if score is not None else "–") + tie,
            f"{usage.get('inputTokens', 0):,} / {usage.get('outputTokens', 0):,}",
            f"{m['latencyMs'] / 1000:.1f}s" if m.get("latencyMs") is not None else "–",
            _usd(m.get("costUsd")),
        )
    console.print(table)
    for m in report["models"]:
        if m["status"] == "failed":
            error = m["error"]
            console.print(
                f"[red]{escape(m['modelId'])} failed:[/red] {escape(error['error'])}: {escape(error['message'][:300])}"
            )
    dataset = report.get("dataset")
    if dataset:
        console.print(
            f"dataset: {dataset['items']} items, {report['totals']['answers']} answers "
            f"({report['totals']['failedAnswers']} failed)"
        )
        for model_id, st in dataset["statistics"]["models"].items():
            ci = st.get("ci95")
            ci_text = f"95% CI {ci[0]:.2f}-{ci[1]:.2f}" if ci else "no CI"
            mean = f"{st['meanScore']:.2f}" if st.get("meanScore") is not None else "–"
            console.print(
                f"  {escape(model_id)}: mean {mean} ({ci_text}; {st['items']} scored, "
                f"{st['failed']} failed, {st['unscored']} unscored)"
            )
        for sentence in dataset.get("sentences", []):
            console.print(f"  [bold]{escape(sentence)}[/bold]")
    repeats = report.get("repeats")
    if repeats:
        console.print(f"repeats: {repeats['repeats']} per model and article")
        for sentence in repeats.get("sentences", []):
            console.print(f"  {escape(sentence)}")
    health = report.get("judgeHealth", {})
    rate = health.get("unscoredRate")
    line = (
        f"judge {escape(report['judgeModelId'])}: unscored {rate:.0%}"
        if rate is not None
        else f"judge {escape(report['judgeModelId'])}"
    )
    if health.get("controlPassed") is not None:
        line += ", control check " + ("passed" if health["controlPassed"] else "[red]FAILED[/red]")
    console.print(line)
    for notice in report.get("notices", []):
        console.print(f"[yellow]note:[/yellow] {escape(notice)}")
    console.print(
        f"cost {_usd(report.get('totalCostUsd'))} (estimated {_usd(report.get('estimatedCostUsd'))}) · "
        f"wall time {seconds:.1f}s"
    )
    console.print(f"report: [bold]{escape(str((folder / 'report.html').resolve()))}[/bold]")


def print_refusal(error: str, details: dict[str, Any], *, local: bool) -> None:
    console.print(
        f"[red]The request was refused[/red] ({escape(error)}); no model was called. Fix these and run again:"
    )
    for item in details.get("errors", []):
        console.print(f"  • [bold]{escape(str(item.get('field')))}[/bold]: {escape(str(item.get('message')))}")
    if not details.get("errors"):
        console.print(f"  {escape(str(details.get('message', '')))}")
    if local and any("not allowed here" in e.get("message", "") for e in details.get("errors", [])):
        console.print(
            "Offline runs use the local.* models (see `python -m converse_local list`), or set "
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME to a Converse endpoint to use Bedrock model IDs."
        )
