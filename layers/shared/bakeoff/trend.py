"""The reports index's trend: the runs of one request side by side, so a drift in the winner's score
(or a change of winner) between reruns shows without opening each report.

"The same request" is the same request body except what does not change the work done (its title, its
cache switch, its budget and deadline): the same article or dataset, models, prompt, rubric and judge.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bakeoff.models import EvaluationRequest

# Fields of a request that do not change what is asked of the models or the judge.
NOT_THE_WORK = ("title", "useCache", "budgetUsd", "deadlineSeconds")


def request_key(request: EvaluationRequest | dict[str, Any] | None) -> str | None:
    """A short fingerprint of the work a request asks for; None when the report holds no (valid) request.
    The request is read into the model and dumped whole, so a report.json's request and the model give one key."""
    if isinstance(request, dict):
        try:
            request = EvaluationRequest.model_validate(request)
        except ValueError:
            return None
    if not isinstance(request, EvaluationRequest):
        return None
    dumped = request.model_dump(mode="json", by_alias=True)
    work = {k: v for k, v in dumped.items() if k not in NOT_THE_WORK}
    return hashlib.sha256(json.dumps(work, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def compare_page_name(before_id: str, after_id: str) -> str:
    """The compare page's file name under ``compare/`` (evaluation IDs are file-name safe: ``bakeoff.ids``)."""
    return f"{before_id}..{after_id}.html"


def consecutive_runs(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(before, after) evaluation IDs of each run and the previous run of the same request."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("requestKey"):
            groups.setdefault(row["requestKey"], []).append(row)
    pairs = []
    for runs in groups.values():
        runs = sorted(runs, key=lambda r: r.get("createdAt") or "")
        pairs += [(a["evaluationId"], b["evaluationId"]) for a, b in zip(runs, runs[1:], strict=False)]
    return pairs


def with_trends(rows: list[dict[str, Any]], *, compare_pages: bool = False) -> list[dict[str, Any]]:
    """The index rows, each of a request that ran more than once given ``trend``: every run of that request,
    oldest first, with its winner and score (``current`` marks the row's own run). With ``compare_pages``
    each run but the first links to ``compare/<previous>..<run>.html`` (written beside the index offline)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("requestKey"):
            groups.setdefault(row["requestKey"], []).append(row)
    out = []
    for row in rows:
        runs = sorted(groups.get(row.get("requestKey") or "", []), key=lambda r: r.get("createdAt") or "")
        if len(runs) < 2:
            out.append(row)
            continue
        out.append(
            row
            | {
                "trend": [
                    {
                        "evaluationId": r["evaluationId"],
                        "score": r.get("winnerScore"),
                        "winner": r.get("winnerName") or r.get("winner"),
                        "judgeHealthFailed": bool(r.get("judgeHealthFailed")),
                        "current": r["evaluationId"] == row["evaluationId"],
                        "compare": compare_page_name(runs[i - 1]["evaluationId"], r["evaluationId"])
                        if compare_pages and i
                        else None,
                    }
                    for i, r in enumerate(runs)
                ]
            }
        )
    return out
