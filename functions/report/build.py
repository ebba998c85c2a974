"""The report step: assemble ``report.json`` from the stored request, answers and verdicts,
render ``report.html`` from it, and refresh the index of all reports."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bakeoff.catalog import load_catalog
from bakeoff.errors import ReportError, StorageError, parse_cause
from bakeoff.estimate import cost_usd, priced
from bakeoff.models import Answer, JudgeFailure, ModelResult, ReportInput, ReportOutput, Usage, Verdict
from bakeoff.storage import Store
from bakeoff.validation import load_evaluation
from functions.report.render import render_csv, render_index, render_report

SCHEMA_VERSION = 1


def _billed_usage_of_failure(result: ModelResult) -> Usage:
    """A failure after the model answered (an empty reply) was still billed: its usage rides in the Cause."""
    details = parse_cause(result.error.cause) if result.error else None
    try:
        return Usage.model_validate((details or {}).get("usage") or {})
    except ValueError:
        return Usage()


def _readable_error(error: str, raw: str) -> dict[str, str]:
    """The Catch gives ``{Error, Cause}`` where Cause is the Lambda's error JSON: unwrap it for people."""
    details = parse_cause(raw)
    message = details.get("message", raw) if details else raw
    return {"error": error, "message": str(message)[:2000]}


def _error_message(result: ModelResult) -> dict[str, str]:
    if result.error is None:
        return {"error": "Unknown", "message": ""}
    return _readable_error(result.error.error, result.error.cause)


def build_report(task: ReportInput, store: Store) -> dict[str, Any]:
    evaluation = load_evaluation(store, task.evaluation_id)
    catalog = load_catalog()
    judge_failure = _readable_error(task.scoring.error, task.scoring.cause) \
        if isinstance(task.scoring, JudgeFailure) else None
    # A failed judge leaves no scores.json; the answers, their usage and cost are reported all the same.
    scores_doc = store.require_json(task.scoring.scores_key) if not judge_failure else {}
    aggregated: dict[str, dict[str, Any]] = scores_doc.get("models", {})
    judge_id = evaluation.judge_model_id
    estimates = {line.model_id: line for line in evaluation.estimate.lines if line.role == "candidate"}
    entries: list[dict[str, Any]] = []
    for result in task.results:
        info = catalog.get(result.model_id)
        entry: dict[str, Any] = {"modelId": result.model_id, "name": info.name if info else result.model_id,
                                 "status": result.status}
        line = estimates.get(result.model_id)
        if line:
            entry["estimate"] = {"inputTokens": line.input_tokens, "outputTokens": line.output_tokens,
                                 "costUsd": line.cost_usd}
        if result.status == "ok":
            answer = Answer.model_validate(store.get_checkpoint(result.answer_key))
            agg = aggregated.get(result.model_id)
            verdict = Verdict.model_validate(agg) if agg else None
            entry.update({
                "output": answer.text, "usage": answer.usage.dump(), "latencyMs": answer.latency_ms,
                "stopReason": answer.stop_reason, "cached": result.cached,
                **cost_fields(result.model_id, answer.usage),
            })
            if verdict is None and judge_failure:
                entry.update({"scoreStatus": "not judged", "scores": {}, "weightedScore": None,
                              "unscoredReason": f"the judge failed: {judge_failure['error']}: "
                                                f"{judge_failure['message'][:300]}"})
            elif verdict is None:
                entry.update({"scoreStatus": "unscored", "unscoredReason": "no verdict was recorded",
                              "scores": {}, "weightedScore": None})
            else:
                entry.update({
                    "scoreStatus": verdict.status,
                    "scores": {k: v.dump() for k, v in verdict.scores.items()},
                    "evidence": verdict.evidence, "weightedScore": verdict.weighted_score,
                    "judgeUsage": verdict.usage.dump(),
                    "judgeCostUsd": agg.get("judgeCostUsd", cost_usd(judge_id, verdict.usage)),
                    "judgeCached": verdict.cached,
                })
                for extra in ("panel", "metrics", "tiedWith", "tie"):
                    if extra in agg:
                        entry[extra] = agg[extra]
                if verdict.status == "unscored":
                    entry.update({"unscoredReason": verdict.reason, "rawJudgeReply": verdict.raw_reply})
        else:
            billed = _billed_usage_of_failure(result)
            entry.update({"output": None, "usage": billed.dump(), "latencyMs": None, "scoreStatus": "not judged",
                          "scores": {}, "weightedScore": None, **cost_fields(result.model_id, billed),
                          "error": _error_message(result)})
        entries.append(entry)

    # Scored first by weighted score, then unscored, then failed; rank only the scored ones.
    def order(e: dict[str, Any]) -> tuple[int, float]:
        group = 0 if e["weightedScore"] is not None else (1 if e["status"] == "ok" else 2)
        return group, -(e["weightedScore"] or 0.0)

    entries.sort(key=order)
    for rank, entry in enumerate(e for e in entries if e["weightedScore"] is not None):
        entry["rank"] = rank + 1

    # Every judge call counts, also those on no model's behalf (the control answer, pairwise
    # comparisons): the score step totals them in judgeCalls when it makes any.
    judge_calls = scores_doc.get("judgeCalls")
    judge_cost = round(judge_calls["costUsd"] if judge_calls else sum(e.get("judgeCostUsd", 0.0) for e in entries), 8)
    judged = [e for e in entries if e["status"] == "ok" and e["scoreStatus"] != "not judged"]
    unscored = sum(e["scoreStatus"] == "unscored" for e in judged)
    report = ranked_body(entries, unscored=unscored, judge_cost=judge_cost)
    report.update({
        "judgeModelIds": scores_doc.get("judgeModelIds", [judge_id]),
        # The score step measures the judge (control answer, panel, pairwise, length bias); the
        # unscored rate is counted here, over every answer that reached the judge.
        "judgeHealth": {
            **scores_doc.get("judgeHealth", {}),
            "unscoredRate": round(unscored / len(judged), 4) if judged else None,
            "judged": len(judged),
            "unscored": unscored,
        },
    })
    if judge_failure:
        report["judgeFailure"] = judge_failure
    report = with_header(report, evaluation, scores_doc.get("judgeCalls"))
    if judge_failure:
        report["notices"].insert(0, f"The judge failed ({judge_failure['error']}: {judge_failure['message'][:300]}), "
                                    "so no answer was scored and there is no ranking. The answers, their tokens and "
                                    "costs are below; run the same request again to judge them without asking the "
                                    "candidates again (their answers are checkpointed).")
    return report


def ranked_body(entries: list[dict[str, Any]], *, unscored: int, judge_cost: float) -> dict[str, Any]:
    """The model entries (already ranked) with their ranking, winner and totals."""
    candidate_cost = round(sum(e["costUsd"] or 0.0 for e in entries), 8)
    totals = {
        "models": len(entries),
        "ok": sum(e["status"] == "ok" for e in entries),
        "failed": sum(e["status"] == "failed" for e in entries),
        "scored": sum(e["scoreStatus"] == "scored" for e in entries),
        "unscored": unscored,
        "inputTokens": sum(e["usage"].get("inputTokens", 0) for e in entries),
        "outputTokens": sum(e["usage"].get("outputTokens", 0) for e in entries),
        "candidateCostUsd": candidate_cost,
        "judgeCostUsd": judge_cost,
        "totalCostUsd": round(candidate_cost + judge_cost, 8),
    }
    return {
        "models": entries,
        "ranking": [e["modelId"] for e in entries if "rank" in e],
        "winner": entries[0]["modelId"] if entries and "rank" in entries[0] else None,
        "totals": totals,
        "judgeCostUsd": judge_cost,
        "totalCostUsd": totals["totalCostUsd"],
    }


def cost_fields(model_id: str, usage: Usage) -> dict[str, Any]:
    """``costUsd`` of a model's calls; for a model without a price ``None`` and ``unpriced``: its cost is
    unknown, and a report that showed $0.00 would be wrong by an unknown amount."""
    if priced(model_id):
        return {"costUsd": cost_usd(model_id, usage)}
    return {"costUsd": None, "unpriced": True}


def with_header(report: dict[str, Any], evaluation: Any, judge_calls: dict[str, Any] | None) -> dict[str, Any]:
    """What every report carries around its results: the request, the estimate, notices, timing."""
    catalog = load_catalog()
    request = evaluation.request
    notices = []
    unpriced = [m for m in dict.fromkeys([*request.models, *evaluation.judge_model_ids]) if not priced(m)]
    if unpriced:
        report["totals"]["unpricedModels"] = unpriced
        notices.append(f"No price is known for {', '.join(unpriced)} (allowUnpriced): their cost is unknown and "
                       "shown as unpriced; every total here counts the priced models only.")
    local = [m for m in [*request.models, *evaluation.judge_model_ids] if (info := catalog.get(m)) and info.local]
    if local:
        notices.append("Local models ran here (" + ", ".join(sorted(set(local))) + "). They are tiny (135M-1.5B "
                       "parameters): their answers and, above all, their judgments are weak. This run shows the "
                       "workflow, not which Bedrock model is best; check the judge health below before trusting "
                       "any ranking.")
    equivalent = bedrock_equivalent(report["totals"], judge_calls, report["models"]) if local else None
    reported_at = datetime.now(UTC)
    try:
        wall = round((reported_at - datetime.fromisoformat(evaluation.created_at)).total_seconds(), 1)
    except ValueError:
        wall = None
    return {
        "schemaVersion": SCHEMA_VERSION,
        "evaluationId": evaluation.evaluation_id,
        "createdAt": evaluation.created_at,
        "reportedAt": reported_at.isoformat(timespec="seconds"),
        "wallTimeSeconds": wall,
        "title": request.title,
        "judgeModelId": evaluation.judge_model_id,
        "judgeModelIds": evaluation.judge_model_ids,
        "criteria": [c.dump() for c in evaluation.criteria],
        "prompt": request.prompt,
        **({"reference": evaluation.reference_answer} if evaluation.reference_answer is not None else {}),
        "warnings": evaluation.warnings,
        "notices": notices,
        "estimatedCostUsd": evaluation.estimate.total_usd,
        "estimate": evaluation.estimate.dump(),
        **({"bedrockEquivalent": equivalent[0], "bedrockEquivalentBasis": equivalent[1]} if equivalent else {}),
        **report,
        "request": request.dump(),
    }


def bedrock_equivalent(totals: dict[str, Any], judge_calls: dict[str, Any] | None,
                       entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """What this run's tokens would cost on each Bedrock model in the catalog: a stated stand-in for
    local runs, whose own cost is $0. Every call's tokens (candidates and judge) priced at one model."""
    if judge_calls:
        judge_in, judge_out = judge_calls["usage"]["inputTokens"], judge_calls["usage"]["outputTokens"]
    else:
        judge_in = sum(e.get("judgeUsage", {}).get("inputTokens", 0) for e in entries)
        judge_out = sum(e.get("judgeUsage", {}).get("outputTokens", 0) for e in entries)
    tokens_in, tokens_out = totals["inputTokens"] + judge_in, totals["outputTokens"] + judge_out
    rows = [{"modelId": m.model_id, "name": m.name, "costUsd": m.cost_usd(tokens_in, tokens_out)}
            for m in load_catalog().models if not m.local]
    rows.sort(key=lambda r: r["costUsd"])
    basis = (f"{tokens_in:,} input and {tokens_out:,} output tokens (all candidate and judge calls of this run, "
             "counted by the local models' tokenizers) priced at each Bedrock model's on-demand rate; real "
             "Bedrock tokenizers count somewhat differently.")
    return rows, basis


def write_report(task: ReportInput, *, store: Store, prefix: str) -> ReportOutput:
    try:
        if task.mode == "dataset":
            from functions.report.dataset import build_dataset_report  # only datasets need the statistics

            body, judge_calls = build_dataset_report(task.evaluation_id, store)
            report = with_header(body, load_evaluation(store, task.evaluation_id), judge_calls)
        else:
            report = build_report(task, store)
    except (KeyError, ValueError) as exc:
        raise ReportError(f"could not assemble the report for {task.evaluation_id}: {exc}") from exc
    base = f"{prefix}{task.evaluation_id}/"
    store.put_json(base + "report.json", report)
    store.put_bytes(base + "report.html", render_report(report).encode(), "text/html; charset=utf-8")
    store.put_bytes(base + "results.csv", render_csv(report).encode(), "text/csv; charset=utf-8")
    update_index(store, prefix, report)
    ranking = [{"rank": e["rank"], "modelId": e["modelId"], "weightedScore": e["weightedScore"]}
               for e in report["models"] if "rank" in e]
    return ReportOutput(evaluation_id=task.evaluation_id, report_key=base + "report.json",
                        html_key=base + "report.html", ranking=ranking, total_cost_usd=report["totalCostUsd"])


def index_row(report: dict[str, Any]) -> dict[str, Any]:
    """One evaluation's line in the reports index."""
    return {"evaluationId": report["evaluationId"], "createdAt": report["createdAt"], "title": report["title"],
            "winner": report["winner"], "totalCostUsd": report["totalCostUsd"],
            "models": report["totals"]["models"], "failed": report["totals"]["failed"],
            "status": "ok" if report["totals"]["failed"] == 0 else "partial"}


INDEX_ATTEMPTS = 30


def update_index(store: Store, prefix: str, report: dict[str, Any], *,
                 pause: Callable[[float], None] = time.sleep) -> None:
    """``reports/index.json`` + ``index.html``: one row per evaluation, newest first.

    Evaluations finish at once (many runs, a dataset's items), and a plain read-modify-write of one
    object loses the rows of every writer but the last. So ``index.json`` is written only if it is
    still the version read (``put_json_if``); a writer that lost reads again and retries after a
    jittered backoff. ``index.html`` is rendered from whatever ``index.json`` holds: each writer, after
    writing it, checks that ``index.json`` has not moved on meanwhile and renders again if it has, so
    the last page written shows the last index.
    """
    key = prefix + "index.json"
    row = index_row(report)
    for attempt in range(INDEX_ATTEMPTS):
        index, etag = store.get_json_tagged(key)
        rows = [r for r in (index or {"evaluations": []})["evaluations"] if r["evaluationId"] != row["evaluationId"]]
        rows = sorted([*rows, row], key=lambda r: r["createdAt"], reverse=True)
        written = store.put_json_if(key, {"evaluations": rows}, etag=etag)
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
        rows, written = index["evaluations"], now
