"""The report of a dataset evaluation: every item's results and verdicts, aggregated per model with
confidence intervals, win rates and a paired test between the top two."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bakeoff.catalog import load_catalog
from bakeoff.models import ModelResult, Usage
from bakeoff.probes import aggregate
from bakeoff.statistics import dataset_statistics
from bakeoff.storage import Store, evaluation_key
from bakeoff.validation import load_evaluation
from functions.report.build import cost_fields, ranked_body
from functions.report.reference_view import reference_means

PER_ITEM_ROWS = 2000  # the HTML lists at most this many items; report.json and results.csv keep all


def _item_rows(store: Store, item: dict[str, str], models: list[str]) -> tuple[list[dict[str, Any]], dict | None]:
    """One row per model for this item, from its scores.json (absent: the item never got scored)."""
    doc = store.get_json(evaluation_key(item["evaluationId"], "scores.json"))
    if doc is None:
        return [{"itemId": item["itemId"], "modelId": m, "status": "failed", "scoreStatus": "not judged",
                 "weightedScore": None, "scores": {}, "usage": {}, "latencyMs": None,
                 "error": "the item was not scored (its child execution failed)"} for m in models], None
    results = {r["modelId"]: ModelResult.model_validate(r) for r in doc.get("results", [])}
    judge_failure = doc.get("judgeFailure")  # the judge failed on this item: its answers stand, not judged
    rows = []
    for model_id in models:
        result = results.get(model_id)
        agg = doc.get("models", {}).get(model_id) or {}
        ok = result is not None and result.status == "ok"
        rows.append({
            "itemId": item["itemId"], "modelId": model_id, "status": "ok" if ok else "failed",
            "scoreStatus": agg.get("status", "unscored") if ok and not judge_failure else "not judged",
            "weightedScore": agg.get("weightedScore") if ok else None,
            "scores": {k: v["score"] for k, v in (agg.get("scores") or {}).items()} if ok else {},
            "usage": (result.usage.dump() if result and result.usage else {}),
            "latencyMs": result.latency_ms if result else None,
            "judgeCostUsd": agg.get("judgeCostUsd", 0.0),
            "error": (result.error.error if result and result.error else None),
            **({"referenceMetrics": ref} if ok and (ref := (agg.get("metrics") or {}).get("reference")) else {}),
        })
    return rows, doc


def build_dataset_report(evaluation_id: str, store: Store) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report body, and every judge call of every item summed (``judgeCalls``)."""
    evaluation = load_evaluation(store, evaluation_id)
    manifest = store.require_json(evaluation_key(evaluation_id, "items.json"))
    models = evaluation.request.models
    with ThreadPoolExecutor(max_workers=16) as pool:
        per_item = list(pool.map(lambda item: _item_rows(store, item, models), manifest))
    rows = [row for item_rows, _doc in per_item for row in item_rows]
    docs = [doc for _rows, doc in per_item if doc is not None]
    criteria = [c.dump() for c in evaluation.criteria]
    stats = dataset_statistics(rows, criteria)
    catalog = load_catalog()
    calls = [d.get("judgeCalls") or {} for d in docs]
    judge_cost = round(sum(c.get("costUsd", 0.0) for c in calls), 8)
    judge_calls = {"count": sum(c.get("count", 0) for c in calls), "costUsd": judge_cost,
                   "usage": sum((Usage.model_validate(c.get("usage") or {}) for c in calls), Usage()).dump()}

    entries = []
    for model_id in models:
        mine = [r for r in rows if r["modelId"] == model_id]
        ok = [r for r in mine if r["status"] == "ok"]
        usage = sum((Usage.model_validate(r["usage"]) for r in mine), Usage())
        st = stats["models"].get(model_id, {})
        info = catalog.get(model_id)
        latencies = [r["latencyMs"] for r in ok if r["latencyMs"] is not None]
        entries.append({
            "modelId": model_id, "name": info.name if info else model_id,
            "status": "ok" if ok else "failed",
            "scoreStatus": "scored" if st.get("meanScore") is not None else (
                "unscored" if any(r["scoreStatus"] == "unscored" for r in ok) else "not judged"),
            "weightedScore": st.get("meanScore"), "meanScore": st.get("meanScore"), "ci95": st.get("ci95"),
            "items": st.get("items", 0), "failed": st.get("failed", 0), "unscored": st.get("unscored", 0),
            "scores": {name: {"score": round(mean, 2), "reason": "mean over the scored items"}
                       for name, mean in (st.get("criteria") or {}).items() if mean is not None},
            "usage": usage.dump(), **cost_fields(model_id, usage),
            "latencyMs": round(sum(latencies) / len(latencies)) if latencies else None,
            "judgeCostUsd": round(sum(r.get("judgeCostUsd") or 0.0 for r in mine), 8),
            **({"referenceMetrics": means} if (means := reference_means(ok)) else {}),
            "output": None,
            **({"error": {"error": "AllItemsFailed", "message": next((r["error"] for r in mine if r["error"]), "")}}
               if not ok else {}),
        })
    entries.sort(key=lambda e: (e["weightedScore"] is None, -(e["weightedScore"] or 0.0)))
    for rank, entry in enumerate((e for e in entries if e["weightedScore"] is not None), start=1):
        entry["rank"] = rank
    top = stats.get("topTwo")
    if top and not top.get("significant"):
        for entry in entries:
            if entry["modelId"] in (top["a"], top["b"]):
                entry["tie"] = True
                entry["tiedWith"] = [m for m in (top["a"], top["b"]) if m != entry["modelId"]]

    judged = [r for r in rows if r["status"] == "ok"]
    unscored = sum(r["scoreStatus"] == "unscored" for r in judged)
    controls = [d["judgeHealth"].get("controlPassed") for d in docs if d.get("judgeHealth")]
    controls = [c for c in controls if c is not None]
    body = ranked_body(entries, unscored=unscored, judge_cost=judge_cost)
    body["totals"].update({"items": len(manifest), "answers": len(judged), "failedAnswers": len(rows) - len(judged)})
    references = {item["itemId"]: doc["reference"] for item, (_rows, doc) in zip(manifest, per_item, strict=True)
                  if doc and doc.get("reference")}
    per_item_scores = {}
    for row in rows:
        value = row["weightedScore"] if row["weightedScore"] is not None else (
            "failed" if row["status"] == "failed" else "unscored")
        per_item_scores.setdefault(row["itemId"], {})[row["modelId"]] = value
    return body | {
        "judgeHealth": {
            "unscoredRate": round(unscored / len(judged), 4) if judged else None,
            "judged": len(judged), "unscored": unscored,
            "controlPassed": (all(controls) if controls else None),
            "controlPassRate": round(sum(controls) / len(controls), 4) if controls else None,
            **({"probes": probes} if (probes := aggregate([(d.get("judgeHealth") or {}).get("probes")
                                                           for d in docs])) else {}),
        },
        "dataset": {
            "items": len(manifest), "modelIds": models,
            "itemsWithoutScores": len(manifest) - len(docs),
            "statistics": stats, "sentences": stats.get("sentences", []),
            "perItem": [{"itemId": item_id, "scores": scores,
                         **({"reference": references[item_id]} if item_id in references else {})}
                        for item_id, scores in list(per_item_scores.items())[:PER_ITEM_ROWS]],
            "itemsWithReference": len(references),
            "perItemTruncated": len(per_item_scores) > PER_ITEM_ROWS,
            "rows": rows,
        },
    }, judge_calls
