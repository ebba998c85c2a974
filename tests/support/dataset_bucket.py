"""A finished dataset evaluation written into a bucket, as the states before the report step leave it.

Validate's own service stores the evaluation, its items and the manifest; then each item gets what the
invoke and score steps write: one answer checkpoint per model that answered and ``scores.json`` with the
branch results and the verdicts, all from their models (``Answer``, ``ModelResult``, ``ScoresDocument``).
Only the verdicts are chosen by the test instead of a judge, so the report step runs on real documents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from bakeoff.answers import answer_key
from bakeoff.evaluations import EvaluationStore, item_evaluation_id, load_evaluation
from bakeoff.models import Answer, CriterionScore, ErrorInfo, Evaluation, ModelResult, Usage
from bakeoff.scores import JudgeFailureNote, ModelScores, ScoresDocument
from bakeoff.scoring import weighted_score
from bakeoff.settings import Settings
from bakeoff.storage import Store, evaluation_key
from bakeoff_offline.template import read_stack
from functions.validate.service import accept
from tests.conftest import ROOT, load_event

SETTINGS = Settings.from_env(read_stack(ROOT).functions["ValidateFunction"].environment)
CREATED = "2026-12-01T10:56:12+00:00"
JUDGE = "meta.llama3-1-70b-instruct-v1:0"


@dataclass
class Outcome:
    """One model's fate on one item: an answer the judge scored (``score``, the same on every criterion),
    an answer it could not score, or no answer at all."""

    kind: Literal["scored", "unscored", "failed"] = "scored"
    score: int = 7
    answer: str | None = None  # default: a sentence naming the item and the model
    reason: str | None = None  # default: one naming the item, the model and the criterion
    usage: Usage = field(default_factory=lambda: Usage(input_tokens=300, output_tokens=40))
    latency_ms: int = 900


@dataclass
class Item:
    id: str
    article: str
    outcomes: dict[str, Outcome]
    reference: str | None = None
    judge: Literal["ok", "failed", "never ran"] = "ok"  # failed: scores.json's short form; never ran: none


def default_answer(item_id: str, model_id: str) -> str:
    return f"The answer of {model_id} to {item_id}: the council approved the ferry."


def default_reason(item_id: str, model_id: str, criterion: str) -> str:
    return f"{criterion} of {model_id} on {item_id}: matches the article."


def write_dataset_run(store: Store, evaluation_id: str, models: list[str], items: list[Item]) -> Evaluation:
    """Store a dataset evaluation of ``items`` over ``models`` as if every state up to the report had run."""
    lines = [{"id": i.id, "article": i.article, **({"reference": i.reference} if i.reference else {})} for i in items]
    store.put_bytes(f"datasets/{evaluation_id}.jsonl", "\n".join(json.dumps(x) for x in lines).encode(), "text/plain")
    request = {k: v for k, v in load_event("statemachine/dataset-bedrock.json").items() if k != "judgeModelId"}
    request |= {
        "dataset": {"s3Uri": f"s3://{store.bucket}/datasets/{evaluation_id}.jsonl"},
        "models": models,
        "judgeModelId": JUDGE,
        "controlAnswer": False,
    }
    evaluation = accept(
        request, evaluation_id=evaluation_id, created_at=CREATED, settings=SETTINGS, evaluations=EvaluationStore(store)
    )
    for item in items:
        _write_item(store, load_evaluation(store, item_evaluation_id(evaluation_id, item.id)), item)
    return evaluation


def _write_item(store: Store, child: Evaluation, item: Item) -> None:
    results, scores = [], {}
    for model_id in child.request.models:
        outcome = item.outcomes.get(model_id, Outcome())
        if outcome.kind == "failed":
            cause = {"errorMessage": "Too many requests, please wait.", "errorType": "ModelThrottledError"}
            error = ErrorInfo(error="ModelThrottledError", cause=json.dumps(cause))
            results.append(ModelResult(model_id=model_id, status="failed", error=error))
            continue
        key = answer_key(child, model_id)
        text = outcome.answer if outcome.answer is not None else default_answer(item.id, model_id)
        answer = Answer(
            model_id=model_id, text=text, stop_reason="end_turn", usage=outcome.usage, latency_ms=outcome.latency_ms
        )
        store.put_checkpoint(key, answer.dump())
        results.append(
            ModelResult(
                model_id=model_id,
                status="ok",
                answer_key=key,
                usage=outcome.usage,
                latency_ms=outcome.latency_ms,
                stop_reason="end_turn",
            )
        )
        scores[model_id] = _verdict(child, item.id, model_id, outcome)
    if item.judge == "never ran":  # the item's child execution failed before its score step
        return
    failure = JudgeFailureNote(error="ModelThrottledError", message="The judge was throttled past every retry.")
    doc = ScoresDocument(
        judge_model_id=child.judge_model_id,
        judge_model_ids=child.judge_model_ids,
        models=scores if item.judge == "ok" else {},
        results=results,
        **({"judge_failure": failure} if item.judge == "failed" else {}),
        **({"reference": child.reference} if child.reference else {}),
    )
    store.put_json(evaluation_key(child.evaluation_id, "scores.json"), doc.dump())


def _verdict(child: Evaluation, item_id: str, model_id: str, outcome: Outcome) -> ModelScores:
    common = {"model_id": model_id, "judge_model_id": child.judge_model_id, "judge_cost_usd": 0.0004}
    if outcome.kind == "unscored":
        return ModelScores(
            **common, status="unscored", reason="the judge's reply was not valid JSON", raw_reply="Sure! {"
        )
    criteria = {
        c.name: CriterionScore(
            score=outcome.score,
            reason=outcome.reason if outcome.reason is not None else default_reason(item_id, model_id, c.name),
        )
        for c in child.criteria
    }
    return ModelScores(
        **common, status="scored", scores=criteria, weighted_score=weighted_score(criteria, child.criteria)
    )
