"""The HTML pages: ``report.html`` for one evaluation, and ``reports/index.html`` for all of them.

The HTML is one self-contained file: inline CSS, inline SVG charts, one small inline script (column
sorting; a dataset's transcripts) and nothing fetched, so it opens the same from S3, from disk or from
an e-mail attachment, with JavaScript on or off (a dataset's transcripts need it; results.jsonl has
them all). Model output, judge reasons and error messages are untrusted text: Jinja2 escapes
every value (autoescape on), and the page's Content-Security-Policy admits exactly our one ``<style>``
and one ``<script>`` by hash, so even a slip in escaping could neither run script nor fetch anything.

What the page shows is shaped in ``view`` (from the ``Report`` model); the filters are in ``formats``.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from bakeoff.report import IndexRow, Report
from bakeoff.trend import with_trends
from functions.report.formats import FILTERS
from functions.report.transcripts import ItemTranscript
from functions.report.transcripts_view import transcripts_view
from functions.report.view import report_view

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(FILTERS)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


_static_cache: dict[str, str] = {}


def _static(name: str) -> str:
    """A template with no variables (the CSS, the script), rendered once and kept."""
    if name not in _static_cache:
        _static_cache[name] = _env.get_template(name).render()
    return _static_cache[name]


def _page(template: str, *, script: bool, **context: Any) -> str:
    css = _static("_style.css.j2")
    # One script, admitted by one hash: the column sorting, and a dataset's transcripts (a no-op elsewhere).
    js = _static("_sort.js.j2") + _static("_transcripts.js.j2") if script else ""
    # Only our own style and script run: by hash, so no 'unsafe-inline' and no source anywhere else.
    # img-src data: admits only the empty data: favicon, which keeps browsers from asking for one.
    policy = (
        f"default-src 'none'; style-src {_csp_hash(css)}; "
        + (f"script-src {_csp_hash(js)}; " if script else "")
        + "img-src data:; base-uri 'none'; form-action 'none'"
    )
    return _env.get_template(template).render(csp=policy, css=Markup(css), js=Markup(js), **context)


def render_report(report: Report, *, transcripts: list[ItemTranscript] | None = None) -> str:
    """The self-contained ``report.html`` for one evaluation's ``report.json``; a dataset's page also
    shows its items' ``transcripts`` when given (they are not in ``report.json``: see ``transcripts``)."""
    return _page("report.html.j2", script=True, r=report_view(report), t=transcripts_view(report, transcripts))


def render_index(rows: list[IndexRow], *, compare_pages: bool = False) -> str:
    """``reports/index.html``: every evaluation, newest first, with its winner, cost and status; reruns of
    one request as a trend (linked to their compare pages when ``compare_pages`` were written beside it)."""
    ordered = sorted(rows, key=lambda row: row.created_at, reverse=True)
    return _page(
        "index.html.j2", script=False, rows=with_trends([row.dump() for row in ordered], compare_pages=compare_pages)
    )
