"""HTML rendering of a report (from its ``report.json`` dict) and of the reports index.

Jinja2 with autoescape on: model output is untrusted text and must never become markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _usd(value: float | None) -> str:
    if value is None:
        return "–"
    if value == 0:
        return "$0"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def _num(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


_env.filters["usd"] = _usd
_env.filters["num"] = _num


def render_report(report: dict[str, Any]) -> str:
    return _env.get_template("report.html.j2").render(r=report)


def render_index(rows: list[dict[str, Any]]) -> str:
    return _env.get_template("index.html.j2").render(rows=rows)
