"""The report of a dataset evaluation: every item's results and verdicts, aggregated per model with
confidence intervals, win rates and a paired test between the top two."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bakeoff.arena import arena_from_scores
from bakeoff.catalog import load_catalog
from bakeoff.estimate import cost_usd
from bakeoff.evaluations import load_evaluation
from bakeoff.judge_health import JudgeHealth
from bakeoff.models import Usage
from bakeoff.probes import aggregate
from bakeoff.report import DatasetRow, DatasetSection, ErrorNote, MeanScore, ModelEntry, PerItem, Report
from bakeoff.scores import JudgeCalls, ScoresDocument
from bakeoff.statistics import dataset_statistics
from bakeoff.storage import Store, evaluation_key
from functions.report.batch import model_cost_fields
from functions.report.body import assemble, rank, totals_of, unscored_rate
from functions.report.reference_view import reference_means
from functions.report.repeats_view import fold_row, new_answer_cost, repeats_section

PER_ITEM_ROWS = 2000  # the HTML lists at most this many items; report.json and results.csv keep all


def _item_rows(store: Store, item: dict[str, str], models: list[str]) -> tuple[list[DatasetRow], ScoresDocument | None]:
    """One row per model for this item, from its scores.json (absent: the item never got scored)."""
    raw = store.get_json(evaluation_key(item["evaluationId"], "scores.json"))
    if raw is None:
        return [
            DatasetRow(
                item_id=item["itemId"],
                model_id=m,
                status="failed",
                score_status="not judged",
                weighted_score=None,
                scores={},
                usage=None,
                latency_ms=None,
                judge_cost_usd=0.0,
                error="the item was not scored (its child execution failed)",
            )
            for m in models
        ], None
    doc = ScoresDocument.model_validate(raw)
    results = {r.model_id: r for r in doc.results if r.repeat is None}  # repeat 1; repeats 2..k: fold_row
    rows = []
    for model_id in models:
        result = results.get(model_id)
        scores = doc.models.get(model_id)
        ok = result is not None and result.status == "ok"
        # The judge failed on this item (judgeFailure): its answers stand, not judged.
        status = (scores.status if scores else "unscored") if ok and not doc.judge_failure else "not judged"
        rows.append(
            DatasetRow(
                item_id=item["itemId"],
                model_id=model_id,
                status="ok" if ok else "failed",
                score_status=status,
                weighted_score=scores.weighted_score if ok and scores else None,
                scores={k: v.score for k, v in scores.scores.items()} if ok and scores else {},
                usage=result.usage if result else None,
                latency_ms=result.latency_ms if result else None,
                judge_cost_usd=scores.judge_cost_usd if scores else 0.0,
                error=result.error.error if result and result.error else None,
                inference=result.inference if result else None,
                cached=bool(result and result.cached),
                reference_metrics=scores.metrics.reference if ok and scores and scores.metrics else None,
            )
        )
        if doc.repeats is not None:
            fold_row(rows[-1], doc)
    return rows, doc


def build_dataset_report(evaluation_id: str, store: Store) -> Report:
    evaluation = load_evaluation(store, evaluation_id)
    manifest = store.require_json(evaluation_key(evaluation_id, "items.json"))
    models = evaluation.request.models
    with ThreadPoolExecutor(max_workers=16) as pool:
        per_item = list(pool.map(lambda item: _item_rows(store, item, models), manifest))
    rows = [row for item_rows, _doc in per_item for row in item_rows]
    docs = [doc for _rows, doc in per_item if doc is not None]
    stats = dataset_statistics([row.dump() for row in rows], [c.dump() for c in evaluation.criteria])
    catalog = load_catalog()
    calls = [d.judge_calls for d in docs if d.judge_calls]
    judge_cost = round(sum(c.cost_usd for c in calls), 8)
    judge_usage = sum((c.usage for c in calls), Usage())

    def summed(name: str) -> float | None:
        values = [getattr(c, name) for c in calls if getattr(c, name) is not None]
        return round(sum(values), 8) if values else None

    judge_calls = (
        JudgeCalls(
            count=sum(c.count for c in calls),
            usage=judge_usage,
            cost_usd=judge_cost,
            uncached_cost_usd=summed("uncached_cost_usd"),
            cache_saving_usd=summed("cache_saving_usd"),
            new_spend_usd=summed("new_spend_usd"),
        )
        if calls
        else None
    )

    entries = []
    for model_id in models:
        mine = [r for r in rows if r.model_id == model_id]
        ok = [r for r in mine if r.status == "ok"]
        usage = sum((r.usage or Usage() for r in mine), Usage())
        st = stats["models"].get(model_id, {})
        info = catalog.get(model_id)
        latencies = [r.latency_ms for r in ok if r.latency_ms is not None]
        entries.append(
            ModelEntry(
                model_id=model_id,
                name=info.name if info else model_id,
                status="ok" if ok else "failed",
                score_status="scored"
                if st.get("meanScore") is not None
                else ("unscored" if any(r.score_status == "unscored" for r in ok) else "not judged"),
                weighted_score=st.get("meanScore"),
                mean_score=st.get("meanScore"),
                ci95=st.get("ci95"),
                items=st.get("items", 0),
                failed=st.get("failed", 0),
                unscored=st.get("unscored", 0),
                scores={
                    name: MeanScore(score=round(mean, 2), reason="mean over the scored items")
                    for name, mean in (st.get("criteria") or {}).items()
                    if mean is not None
                },
                usage=usage,
                **model_cost_fields(model_id, mine),
                # What this run paid for this model's answers: those not reused from checkpoints (see spend.py).
                new_cost_usd=cost_usd(model_id, sum((r.usage or Usage() for r in mine if not r.cached), Usage()))
                if evaluation.request.repeats == 1
                else new_answer_cost(model_id, docs),
                latency_ms=round(sum(latencies) / len(latencies)) if latencies else None,
                judge_cost_usd=round(sum(r.judge_cost_usd for r in mine), 8),
                reference_metrics=reference_means([r.dump() for r in ok]),
                output=None,
                **(
                    {"error": ErrorNote(error="AllItemsFailed", message=next((r.error for r in mine if r.error), ""))}
                    if not ok
                    else {}
                ),
            )
        )
    entries.sort(key=lambda e: (e.weighted_score is None, -(e.weighted_score or 0.0)))
    rank(entries)
    top = stats.get("topTwo")
    if top and not top.get("significant"):
        for entry in entries:
            if entry.model_id in (top["a"], top["b"]):
                entry.tie = True
                entry.tied_with = [m for m in (top["a"], top["b"]) if m != entry.model_id]

    judged = [r for r in rows if r.status == "ok"]
    unscored = sum(r.score_status == "unscored" for r in judged)
    controls = [d.judge_health.control_passed for d in docs if d.judge_health]
    controls = [c for c in controls if c is not None]
    health = JudgeHealth.graded(
        unscored_rate=unscored_rate(unscored, len(judged)),
        judged=len(judged),
        unscored=unscored,
        control_passed=all(controls) if controls else None,
        control_pass_rate=round(sum(controls) / len(controls), 4) if controls else None,
        probes=aggregate([d.judge_health.probes for d in docs if d.judge_health]),
    )
    references = {
        item["itemId"]: doc.reference
        for item, (_rows, doc) in zip(manifest, per_item, strict=True)
        if doc and doc.reference
    }
    per_item_scores: dict[str, dict[str, float | str]] = {}
    for row in rows:
        value = (
            row.weighted_score
            if row.weighted_score is not None
            else ("failed" if row.status == "failed" else "unscored")
        )
        per_item_scores.setdefault(row.item_id, {})[row.model_id] = value
    dataset = DatasetSection(
        items=len(manifest),
        model_ids=models,
        items_without_scores=len(manifest) - len(docs),
        statistics=stats,
        sentences=stats.get("sentences", []),
        per_item=[
            PerItem(
                item_id=item_id, scores=scores, **({"reference": references[item_id]} if item_id in references else {})
            )
            for item_id, scores in list(per_item_scores.items())[:PER_ITEM_ROWS]
        ],
        per_item_truncated=len(per_item_scores) > PER_ITEM_ROWS,
        **({"items_with_reference": len(references)} if references else {}),
        rows=rows,
    )
    totals = totals_of(
        entries,
        unscored=unscored,
        judge_cost=judge_cost,
        items=len(manifest),
        answers=len(judged),
        failed_answers=len(rows) - len(judged),
    )
    return assemble(
        evaluation,
        entries=entries,
        totals=totals,
        judge_health=health,
        judge_usage=judge_usage,
        judge_calls=judge_calls,
        judge_model_ids=evaluation.judge_model_ids,
        dataset=dataset,
        # Items are the clusters of the arena's bootstrap: one article's verdicts are not independent.
        arena=arena_from_scores(
            [(item["itemId"], doc) for item, (_rows, doc) in zip(manifest, per_item, strict=True) if doc],
            models,
            names={e.model_id: e.name for e in entries},
        )
        if evaluation.request.mode == "arena"
        else None,
        repeats=repeats_section(
            evaluation,
            [(item["itemId"], doc) for item, (_rows, doc) in zip(manifest, per_item, strict=True)],
            [e.model_id for e in entries],
            {e.model_id: e.name for e in entries},
        ),
    )
