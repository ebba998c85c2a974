"""What a candidate is asked, and where its answer is checkpointed: one definition for both ways of asking
(an on-demand Converse call, or a record of a Bedrock batch job), so that each finds the other's answers."""

from __future__ import annotations

from typing import Any

from bakeoff.converse import build_request, user_message
from bakeoff.models import Evaluation
from bakeoff.storage import checkpoint_key


def answer_key(evaluation: Evaluation, model_id: str) -> str:
    """Everything that determines the answer, and nothing else: not the judge, not the rubric, not how it
    was asked (on-demand or batch), so re-judging, adding a model or switching modes never re-invokes a
    candidate that already answered."""
    request = evaluation.request
    return checkpoint_key(
        "answers",
        {
            "modelId": model_id,
            "system": request.prompt,
            "article": request.article,
            "maxTokens": request.max_tokens,
            "temperature": request.temperature,
        },
        scope=evaluation.api_key_id,
    )


def candidate_request(evaluation: Evaluation, model_id: str) -> dict[str, Any]:
    """The Converse request a candidate answers (keyword arguments for ``bedrock_runtime.converse``)."""
    request = evaluation.request
    return build_request(
        model_id,
        system=request.prompt,
        messages=[user_message(request.article or "")],
        max_tokens=request.max_tokens,
        temperature=request.temperature,
    )
