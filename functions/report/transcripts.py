"""Per-item transcripts of a dataset evaluation: every item's article excerpt and reference, and each
model's answer with the judge's verdict, for ``results.jsonl`` and the report page's transcripts.

The scores come from the report's own ``dataset.rows`` (so the page, ``report.json`` and the export
never disagree); what ``report.json`` leaves out to stay lean is read here, through the typed models:
the item's article from its ``request.json`` (``Evaluation``), the judge's reasons and evidence from its
``scores.json`` (``ScoresDocument``), and each answer from its checkpoint (``Answer``).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bakeoff.errors import CheckpointCorruptError
from bakeoff.item_results import ItemResult
from bakeoff.models import Answer, Evaluation, ModelResult
from bakeoff.report import DatasetRow, ErrorNote, Report
from bakeoff.scores import ModelScores, RepeatScore, ScoresDocument
from bakeoff.storage import Store, evaluation_key
from functions.report.body import cost_fields, readable_error

EXCERPT_CHARS = 600  # of each item's article, for the page; the dataset file holds the whole text
READERS = 16  # items read at once (each: its request, its scores and one answer per model)


@dataclass(frozen=True)
class ItemTranscript:
    """One dataset item: its article's opening, its reference, and one ``ItemResult`` per model."""

    item_id: str
    excerpt: str
    article_chars: int
    reference: str | None
    results: list[ItemResult]


def dataset_transcripts(report: Report, store: Store) -> list[ItemTranscript]:
    """Every item of the dataset evaluation ``report`` describes, in the dataset's order."""
    if report.dataset is None:
        raise ValueError("transcripts are of a dataset evaluation; this report has no dataset section")
    manifest = store.require_json(evaluation_key(report.evaluation_id, "items.json"))
    rows: dict[str, list[DatasetRow]] = {}
    for row in report.dataset.rows:
        rows.setdefault(row.item_id, []).append(row)
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        return list(
            pool.map(
                lambda item: _transcript(
                    store, report.evaluation_id, item["evaluationId"], item["itemId"], rows.get(item["itemId"], [])
                ),
                manifest,
            )
        )


def result_lines(transcripts: list[ItemTranscript]) -> Iterator[ItemResult]:
    """The lines of ``results.jsonl``: item by item, each item's models in the request's order."""
    for item in transcripts:
        yield from item.results


def _transcript(
    store: Store, evaluation_id: str, child_id: str, item_id: str, rows: list[DatasetRow]
) -> ItemTranscript:
    request = store.get_json(evaluation_key(child_id, "request.json"))
    child = Evaluation.model_validate(request) if request is not None else None
    article = (child.request.article if child else None) or ""
    reference = child.reference if child else None
    raw = store.get_json(evaluation_key(child_id, "scores.json"))
    doc = ScoresDocument.model_validate(raw) if raw is not None else None
    # With repeats, results holds every repeat's branch: the line's answer is repeat 1's, as in report.json.
    branch = {r.model_id: r for r in doc.results if r.repeat in (None, 1)} if doc else {}
    repeats = (doc.repeats or {}) if doc else {}
    failure = doc.judge_failure if doc else None
    results = [
        _line(
            store,
            evaluation_id,
            row,
            result=branch.get(row.model_id),
            scores=doc.models.get(row.model_id) if doc else None,
            judge_failure=f"{failure.error}: {failure.message}" if failure else None,
            reference=reference,
            repeats=repeats.get(row.model_id),
        )
        for row in rows
    ]
    return ItemTranscript(
        item_id=item_id,
        excerpt=article[:EXCERPT_CHARS],
        article_chars=len(article),
        reference=reference,
        results=results,
    )


def _answer(store: Store, result: ModelResult | None) -> tuple[Answer | None, str | None]:
    """The checkpointed answer, or why it cannot be read (a report is written all the same)."""
    if result is None or result.status != "ok" or not result.answer_key:
        return None, None
    try:
        body = store.get_checkpoint(result.answer_key)
    except CheckpointCorruptError:
        return None, "its checkpoint fails its hash check"
    if body is None:
        return None, "its checkpoint is gone"
    return Answer.model_validate(body), None


def _line(
    store: Store,
    evaluation_id: str,
    row: DatasetRow,
    *,
    result: ModelResult | None,
    scores: ModelScores | None,
    judge_failure: str | None,
    reference: str | None,
    repeats: list[RepeatScore] | None = None,
) -> ItemResult:
    answer, missing = _answer(store, result)
    scored = row.score_status == "scored" and scores is not None
    if row.status == "failed":
        error = (
            readable_error(result.error.error, result.error.cause)
            if result and result.error
            else ErrorNote(error="ItemNotScored", message=row.error or "")
        )
        why = None
    else:
        error = None
        why = (
            f"the judge failed: {judge_failure[:300]}"
            if judge_failure
            else (scores.reason if scores and row.score_status == "unscored" else None)
        )
    return ItemResult(
        evaluation_id=evaluation_id,
        item_id=row.item_id,
        model_id=row.model_id,
        status=row.status,
        score_status=row.score_status,
        answer=answer.text if answer else None,
        **({"answer_missing": missing} if missing else {}),
        **({"stop_reason": answer.stop_reason} if answer else {}),
        usage=row.usage,
        cost_usd=cost_fields(row.model_id, row.usage, row.inference)["cost_usd"] if row.usage else None,
        latency_ms=row.latency_ms,
        **({"cached": row.cached} if row.status == "ok" else {}),
        **({"inference": "batch"} if row.inference == "batch" else {}),
        weighted_score=row.weighted_score,
        scores=scores.scores if scored else {},
        **({"evidence": scores.evidence} if scored and scores.evidence else {}),
        **({"unscored_reason": why} if why else {}),
        judge_cost_usd=row.judge_cost_usd,
        **({"error": error} if error else {}),
        **({"reference": reference} if reference else {}),
        **({"reference_metrics": row.reference_metrics} if row.reference_metrics else {}),
        **({"repeats": repeats} if repeats else {}),
    )
