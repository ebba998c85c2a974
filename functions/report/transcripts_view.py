"""The page's view of a dataset's transcripts (``_transcripts.html.j2`` and ``_transcripts.js.j2``).

The items go into the page once, as JSON in a ``<script type="application/json">`` block (data, never
run: the CSP's script hash does not cover it and need not), and the page's one script draws only the
rows of the page being looked at, and an item's answers only when it is opened. So a 1,000-item report
is one parse of the JSON and fifty rows of DOM, not 1,000 items' worth of markup.
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from bakeoff.item_results import ItemResult
from bakeoff.report import Report
from functions.report.transcripts import ItemTranscript
from functions.report.view import PALETTE_SIZE

SHOWN_ITEMS = 2000  # items on the page (like the per-item score table); results.jsonl keeps all
SHOWN_CHARS = 4000  # of an answer or a reference on the page; results.jsonl keeps the whole text
PAGE_ROWS = 50  # items drawn at once


def script_json(value: Any) -> Markup:
    """``value`` as JSON that is safe inside ``<script type="application/json">``: ``<``, ``>`` and ``&``
    as ``\\u`` escapes, so no text (``</script>``, ``<!--``) can end the block or open another, and the
    two line separators JavaScript once refused inside strings escaped as well."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return Markup(text)


def _shown_status(line: ItemResult) -> str:
    if line.status == "failed":
        return "failed"
    if line.score_status == "scored" and line.weighted_score is not None:
        return "scored"
    return line.score_status


def _cut(text: str | None) -> tuple[str | None, int]:
    """The text as shown, and how many characters were left out (0: all of it)."""
    if text is None or len(text) <= SHOWN_CHARS:
        return text, 0
    return text[:SHOWN_CHARS], len(text) - SHOWN_CHARS


def _result(line: ItemResult, criteria: list[str]) -> dict[str, Any]:
    answer, cut = _cut(line.answer)
    note = line.unscored_reason or (
        f"the answer's text is missing: {line.answer_missing}" if line.answer_missing else None
    )
    return {
        "status": _shown_status(line),
        "weighted": line.weighted_score,
        # [score, reason] per criterion in rubric order; null where the judge gave none.
        "scores": [[line.scores[c].score, line.scores[c].reason] if c in line.scores else None for c in criteria],
        "answer": answer,
        "cut": cut,
        "note": note,
        "error": f"{line.error.error}: {line.error.message}" if line.error else None,
    }


def transcripts_view(report: Report, transcripts: list[ItemTranscript] | None) -> dict[str, Any] | None:
    """What the transcripts section needs, or None (not a dataset, or no transcripts were read)."""
    if transcripts is None or report.dataset is None:
        return None
    criteria = [c.name for c in report.criteria]
    models = [
        {"id": m.model_id, "name": m.name, "color": i % PALETTE_SIZE, "mean": m.weighted_score}
        for i, m in enumerate(report.models)
    ]
    items = []
    for item in transcripts[:SHOWN_ITEMS]:
        reference, reference_cut = _cut(item.reference)
        items.append(
            {
                "id": item.item_id,
                "excerpt": item.excerpt,
                "more": item.article_chars - len(item.excerpt),
                "reference": reference,
                "referenceCut": reference_cut,
                "results": {line.model_id: _result(line, criteria) for line in item.results},
            }
        )
    data = {"models": models, "criteria": criteria, "pageRows": PAGE_ROWS, "items": items}
    return {
        "models": models,
        "shown": len(items),
        "total": len(transcripts),
        "lines": sum(len(item.results) for item in transcripts),
        "shown_chars": SHOWN_CHARS,
        "json": script_json(data),
    }
