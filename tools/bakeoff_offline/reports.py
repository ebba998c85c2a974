"""The offline ``out/`` folder: one sub-folder per evaluation, and an index of them all."""

from __future__ import annotations

import json
from pathlib import Path

from functions.report.build import index_row
from functions.report.render import render_index


def write_index(out_dir: Path) -> Path:
    """``out/index.html`` over every ``out/*/report.json``, newest first (each run is its own moto)."""
    rows = []
    for path in Path(out_dir).glob("*/report.json"):
        try:
            rows.append(index_row(json.loads(path.read_text(encoding="utf-8"))))
        except (ValueError, KeyError):
            continue  # a foreign or half-written file: not ours to list
    rows.sort(key=lambda r: r["createdAt"], reverse=True)
    target = Path(out_dir) / "index.html"
    target.write_text(render_index(rows), encoding="utf-8")
    return target
