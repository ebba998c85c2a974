"""The report step: build the report of one article or of a dataset, write ``report.json``,
``report.html`` and ``results.csv`` from it (and, for a dataset, ``results.jsonl``: every item's
transcript), and refresh the index of all reports.

Who does what (no module imports one that imports it back; the documents are ``bakeoff.report``
and ``bakeoff.scores`` in the layer)::

    build (this module: orchestration, the index)
      -> single, dataset   the two builders, each returning a ``Report``
           -> body          what both are made of: costs, ranking, totals, the header
      -> render            the pages  -> view -> charts, health, formats
      -> results_csv       the CSV, straight from the ``Report``
      -> transcripts       a dataset's per-item answers and reasons (results.jsonl, the page's transcripts)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from bakeoff.errors import ReportError, StorageError
from bakeoff.item_results import dump_jsonl
from bakeoff.models import ReportInput, ReportOutput
from bakeoff.report import IndexRow, ReportsIndex
from bakeoff.storage import Store
from functions.report.dataset import build_dataset_report
from functions.report.render import render_index, render_report
from functions.report.results_csv import render_csv
from functions.report.single import build_single_report
from functions.report.transcripts import dataset_transcripts, result_lines


def write_report(task: ReportInput, *, store: Store, prefix: str) -> ReportOutput:
    """Build the report (single article or dataset), write ``report.json``, ``report.html`` and
    ``results.csv`` from it (a dataset also ``results.jsonl``), and add it to the reports index."""
    transcripts = None
    try:
        if task.mode == "dataset":
            report = build_dataset_report(task.evaluation_id, store)
            transcripts = dataset_transcripts(report, store)
        else:
            report = build_single_report(task, store)
    except (KeyError, ValueError) as exc:
        raise ReportError(f"could not assemble the report for {task.evaluation_id}: {exc}") from exc
    base = f"{prefix}{task.evaluation_id}/"
    store.put_json(base + "report.json", report.dump())
    page = render_report(report, transcripts=transcripts)
    store.put_bytes(base + "report.html", page.encode(), "text/html; charset=utf-8")
    store.put_bytes(base + "results.csv", render_csv(report).encode(), "text/csv; charset=utf-8")
    if transcripts is not None:
        jsonl = dump_jsonl(result_lines(transcripts)).encode()
        store.put_bytes(base + "results.jsonl", jsonl, "application/x-ndjson; charset=utf-8")
    update_index(store, prefix, IndexRow.of(report))
    ranking = [
        {"rank": e.rank, "modelId": e.model_id, "weightedScore": e.weighted_score}
        for e in report.models
        if e.rank is not None
    ]
    return ReportOutput(
        evaluation_id=task.evaluation_id,
        report_key=base + "report.json",
        html_key=base + "report.html",
        ranking=ranking,
        total_cost_usd=report.totals.total_cost_usd,
    )


INDEX_ATTEMPTS = 30


def update_index(store: Store, prefix: str, row: IndexRow, *, pause: Callable[[float], None] = time.sleep) -> None:
    """``reports/index.json`` + ``index.html``: one row per evaluation, newest first.

    Evaluations finish at once (many runs, a dataset's items), and a plain read-modify-write of one
    object loses the rows of every writer but the last. So ``index.json`` is written only if it is
    still the version read (``put_json_if``); a writer that lost reads again and retries after a
    jittered backoff. ``index.html`` is rendered from whatever ``index.json`` holds: each writer, after
    writing it, checks that ``index.json`` has not moved on meanwhile and renders again if it has, so
    the last page written shows the last index.
    """
    key = prefix + "index.json"
    for attempt in range(INDEX_ATTEMPTS):
        index, etag = store.get_json_tagged(key)
        rows = [r for r in _rows(index) if r.evaluation_id != row.evaluation_id]
        rows = sorted([*rows, row], key=lambda r: r.created_at, reverse=True)
        written = store.put_json_if(key, ReportsIndex(evaluations=rows).dump(), etag=etag)
        if written is not None:
            break
        pause(random.uniform(0, min(1.0, 0.02 * 2**attempt)))
    else:
        raise StorageError(f"{key} kept changing: {INDEX_ATTEMPTS} conditional writes lost (the ASL retries)")
    for _ in range(INDEX_ATTEMPTS):
        store.put_bytes(prefix + "index.html", render_index(rows).encode(), "text/html; charset=utf-8")
        index, now = store.get_json_tagged(key)
        if now == written or index is None:
            return
        rows, written = _rows(index), now


def _rows(index: Any) -> list[IndexRow]:
    return ReportsIndex.model_validate(index).evaluations if index is not None else []
