"""What a candidate is asked, and where its answer is checkpointed: one definition for both ways of asking
(an on-demand Converse call, or a record of a Bedrock batch job), so that each finds the other's answers."""

from __future__ import annotations

from typing import Any

from bakeoff.converse import build_request, user_message
from bakeoff.models import Evaluation
from bakeoff.repeats import seed_fields
from bakeoff.storage import checkpoint_key


def answer_key(evaluation: Evaluation, model_id: str, repeat: int = 1) -> str:
    """Everything that determines the answer, and nothing else: not the judge, not the rubric, not how it
    was asked (on-demand or batch), so re-judging, adding a model or switching modes never re-invokes a
    candidate that already answered. Repeat 1 has the key of a run without repeats; repeats 2..k add their
    index (and seed), so raising ``repeats`` from 3 to 5 asks only for repeats 4 and 5."""
    request = evaluation.request
    determinants: dict[str, Any] = {
        "modelId": model_id,
        "system": request.prompt,
        "article": request.article,
        "maxTokens": request.max_tokens,
        "temperature": request.temperature,
    }
    if repeat > 1:
        determinants |= {"repeat": repeat, "seed": (seed_fields(model_id, repeat) or {}).get("seed")}
    return checkpoint_key("answers", determinants, scope=evaluation.api_key_id)


def candidate_request(evaluation: Evaluation, model_id: str, repeat: int = 1) -> dict[str, Any]:
    """The Converse request a candidate answers (keyword arguments for ``bedrock_runtime.converse``);
    a repeat after the first carries its seed where the model takes one (``bakeoff.repeats``)."""
    request = evaluation.request
    return build_request(
        model_id,
        system=request.prompt,
        messages=[user_message(request.article or "")],
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        additional_fields=seed_fields(model_id, repeat),
    )
