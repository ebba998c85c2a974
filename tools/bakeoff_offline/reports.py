"""The offline ``out/`` folder: one sub-folder per evaluation, and an index of them all."""

from __future__ import annotations

from pathlib import Path

from bakeoff.report import IndexRow, ReportHeadline
from functions.report.render import render_index


def write_index(out_dir: Path) -> Path:
    """``out/index.html`` over every ``out/*/report.json``, newest first (each run is its own moto)."""
    rows = []
    for path in Path(out_dir).glob("*/report.json"):
        try:
            rows.append(IndexRow.of(ReportHeadline.model_validate_json(path.read_text(encoding="utf-8"))))
        except ValueError:
            continue  # a foreign or half-written file: not ours to list
    rows.sort(key=lambda r: r.created_at, reverse=True)
    target = Path(out_dir) / "index.html"
    target.write_text(render_index(rows), encoding="utf-8")
    return target
