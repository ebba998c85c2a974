"""The reference answer in the report: the text the judge graded against, and how close each model's
answer came to it (ROUGE-L and token F1), for one article or as means over a dataset's items.

Kept apart from ``render.py`` (which gains one line) and shown by ``_reference.html.j2``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SHOWN_ITEM_REFERENCES = 200  # the HTML lists at most this many items' references; report.json keeps all


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def reference_view(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """What ``_reference.html.j2`` needs, or None when the run had no reference answer."""
    models = [m for m in report.get("models") or [] if isinstance(m, Mapping)]
    dataset = report.get("dataset") if isinstance(report.get("dataset"), Mapping) else None
    text = report.get("reference")
    items = [row for row in (dataset or {}).get("perItem") or [] if row.get("reference")]
    rows = []
    for m in models:
        figures = (m.get("referenceMetrics") if dataset else (m.get("metrics") or {}).get("reference")) or {}
        if figures:
            rows.append(
                {
                    "id": m["modelId"],
                    "name": m.get("name") or m["modelId"],
                    "rouge_l": _number(figures.get("rougeL")),
                    "token_f1": _number(figures.get("tokenF1")),
                    "items": figures.get("items"),
                }
            )
    if not text and not items:
        return None
    return {
        "text": text,
        "rows": rows,
        "dataset": dataset is not None,
        "listed": [{"id": row.get("itemId"), "text": row["reference"]} for row in items[:SHOWN_ITEM_REFERENCES]],
        "items_with_reference": (dataset or {}).get("itemsWithReference", len(items)),
        "items_total": (dataset or {}).get("items"),
    }


def reference_means(rows: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """A model's mean ROUGE-L and token F1 against the reference over the dataset items that had one
    (each row's ``referenceMetrics``); None when no item had a reference. A figure that is None on an
    item (an empty answer) is left out of its mean, not counted as 0."""
    figures = [r["referenceMetrics"] for r in rows if r.get("referenceMetrics")]
    if not figures:
        return None

    def mean(key: str) -> float | None:
        values = [v for f in figures if (v := _number(f.get(key))) is not None]
        return round(sum(values) / len(values), 4) if values else None

    return {"rougeL": mean("rougeL"), "tokenF1": mean("tokenF1"), "items": len(figures)}
