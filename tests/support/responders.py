"""Scripted model behaviour at the Converse boundary: candidates write text, the judge calls the
forced tool. Each responder is a plain function of (model_id, request)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from converse_local import wire

Responder = Callable[[str, dict], dict]


def is_judge_call(request: dict[str, Any]) -> bool:
    return "toolConfig" in request


def rubric(request: dict[str, Any]) -> list[str]:
    schema = request["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]
    return list(schema["properties"]["scores"]["properties"])


def verdict(request: dict[str, Any], score: int | Callable[[str], int] = 7) -> dict[str, Any]:
    """A valid forced-tool verdict scoring every criterion of the request's rubric."""
    pick = score if callable(score) else (lambda _name: score)
    return wire.tool_response("record_verdict", {
        "scores": {name: {"reason": f"scripted reason for {name}", "score": pick(name)} for name in rubric(request)},
        "evidence": ["The new ferry will carry up to 180 passengers"],
    }, input_tokens=2000, output_tokens=150)


def answer_text(model_id: str) -> str:
    return f"HOST A: Harborview votes 7 to 2 for an electric ferry. HOST B: 180 passengers. ({model_id})"


def good_responder(*, delay: float = 0.0, judge_delay: float = 0.0, score: int = 7,
                   input_tokens: int = 1200, output_tokens: int = 300) -> Responder:
    def respond(model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        if is_judge_call(request):
            time.sleep(judge_delay)
            return verdict(request, score)
        time.sleep(delay)
        return wire.text_response(answer_text(model_id), input_tokens=input_tokens, output_tokens=output_tokens)

    return respond
