"""The compare page of the reports index: two runs of one request side by side (``bakeoff.compare``)."""

from __future__ import annotations

from typing import Any

from bakeoff.compare import compare_reports
from functions.report.render import _page


def render_compare(before: dict[str, Any], after: dict[str, Any], *, base: str = "../") -> str:
    """The self-contained compare page of two parsed report.json documents; ``base`` leads from the
    page to the folder holding ``<evaluationId>/report.html``."""
    return _page("compare.html.j2", script=False, c=compare_reports(before, after).dump(), base=base)
