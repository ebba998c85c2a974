"""The offline ``out/`` folder: one sub-folder per evaluation, and an index of them all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bakeoff.report import IndexRow, ReportHeadline
from bakeoff.trend import compare_page_name, consecutive_runs
from functions.report.compare_page import render_compare
from functions.report.render import render_index


def write_index(out_dir: Path) -> Path:
    """``out/index.html`` over every ``out/*/report.json``, newest first (each run is its own moto), and a
    compare page (``out/compare/A..B.html``) for each run and the previous run of the same request."""
    rows: list[IndexRow] = []
    reports: dict[str, dict[str, Any]] = {}
    for path in Path(out_dir).glob("*/report.json"):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            row = IndexRow.of(ReportHeadline.model_validate(report))
        except ValueError:
            continue  # a foreign or half-written file: not ours to list
        rows.append(row)
        reports[row.evaluation_id] = report
    rows.sort(key=lambda r: r.created_at, reverse=True)
    pages = Path(out_dir) / "compare"
    for before, after in consecutive_runs([row.dump() for row in rows]):
        page = pages / compare_page_name(before, after)
        if not page.is_file():  # both reports are final once written: a page once rendered stays true
            pages.mkdir(exist_ok=True)
            page.write_text(render_compare(reports[before], reports[after]), encoding="utf-8")
    target = Path(out_dir) / "index.html"
    target.write_text(render_index(rows, compare_pages=True), encoding="utf-8")
    return target
