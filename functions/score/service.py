"""The score step: every answer that succeeded is judged; failed ones are passed through."""

from __future__ import annotations

import string
from concurrent.futures import ThreadPoolExecutor

from bakeoff.converse import ConverseClient
from bakeoff.models import Answer, ScoreInput, ScoreOutput, Verdict
from bakeoff.storage import Store, evaluation_key
from bakeoff.validation import load_evaluation
from functions.score.judge import Judge


def aggregate(verdicts: list[Verdict]) -> dict:
    """One model's verdicts (one per judge) as the report shows them."""
    primary = verdicts[0]
    out = primary.dump()
    out["usage"] = sum((v.usage for v in verdicts[1:]), primary.usage).dump()
    return out


def score_answers(task: ScoreInput, *, store: Store, converse: ConverseClient, concurrency: int) -> ScoreOutput:
    evaluation = load_evaluation(store, task.evaluation_id)
    judge = Judge(converse, store, judge_model_id=evaluation.judge_model_id, criteria=evaluation.criteria,
                  article=evaluation.request.article, task_prompt=evaluation.request.prompt,
                  use_cache=evaluation.request.use_cache)
    ok = [r for r in task.results if r.status == "ok" and r.answer_key]
    # The judge never sees model names: answers are labelled A, B, C in request order.
    labels = dict(zip([r.model_id for r in ok], string.ascii_uppercase, strict=False))

    def one(model_id: str, key: str) -> Verdict:
        text = Answer.model_validate(store.get_checkpoint(key)).text
        return judge.score(model_id, text, labels[model_id])

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(ok)))) as pool:
        verdicts = list(pool.map(lambda r: one(r.model_id, r.answer_key), ok))

    key = evaluation_key(task.evaluation_id, "scores.json")
    store.put_json(key, {
        "judgeModelId": evaluation.judge_model_id,
        "judgeModelIds": evaluation.judge_model_ids,
        "verdicts": [v.dump() for v in verdicts],
        # One entry per judged model: what the report shows (a panel's mean, when there is a panel).
        "models": {v.model_id: aggregate([v]) for v in verdicts},
        "judgeHealth": {},
    })
    scored = sum(v.status == "scored" for v in verdicts)
    return ScoreOutput(evaluation_id=task.evaluation_id, scores_key=key, scored=scored,
                       unscored=len(verdicts) - scored)
