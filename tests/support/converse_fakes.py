"""The one scripted Converse fake, for every test tier: models scripted at the network boundary.

``ScriptedModels`` decides what each Converse call gets and remembers what was asked; the builders
make its replies (``answer``, ``verdict``, ``preference``, ``throttled``, ``error``); ``converse_server``
serves it over HTTP as a real ``ConverseServer``, so everything behind the boundary is the real code::

    models = ScriptedModels(judge=lambda model_id, request: verdict(request, 9))
    with converse_server(models) as server:
        client = bedrock_client(server.url)
    models.requests  # every request body, in order

A judge's retry dialogue is replies in turn: ``ScriptedModels(verdict_of(...), throttled(), ...)``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config

from converse_local import wire
from converse_local.faults import Fault
from converse_local.server import ConverseServer

Responder = Callable[[str, dict], dict]
# A Converse body, an exception to raise, or a function of (model_id, request) giving one of those.
Reply = dict[str, Any] | Exception | Callable[[str, dict], Any]

VERDICT_TOOL = "record_verdict"
EVIDENCE = "The new ferry will carry up to 180 passengers"
_SHOWN = re.compile(r'<candidate_answer label="[A-Z]">\n(.*?)\n</candidate_answer>', re.DOTALL)


# --- reading a request ---------------------------------------------------------------------------


def is_judge_call(request: dict[str, Any]) -> bool:
    """A judge with tool use is forced to call its verdict (or preference) tool."""
    return "toolConfig" in request


def tool_name(request: dict[str, Any]) -> str:
    return request["toolConfig"]["tools"][0]["toolSpec"]["name"]


def rubric(request: dict[str, Any]) -> list[str]:
    """The criteria the verdict tool's schema asks a score for, in order."""
    schema = request["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]
    return list(schema["properties"]["scores"]["properties"])


def shown_answers(request: dict[str, Any]) -> list[str]:
    """The candidate answers inside the judge's delimiters: one to score, two to compare."""
    return _SHOWN.findall(wire.last_user_text(request))


# --- building a reply ----------------------------------------------------------------------------


def answer_text(model_id: str) -> str:
    return f"HOST A: Harborview votes 7 to 2 for an electric ferry. HOST B: 180 passengers. ({model_id})"


def answer(text: str, *, input_tokens: int = 1200, output_tokens: int = 300) -> dict[str, Any]:
    """A candidate's text answer, with its usage."""
    return wire.text_response(text, input_tokens=input_tokens, output_tokens=output_tokens)


ByName = Callable[[str], Any]


def verdict_payload(
    names: Sequence[str],
    score: int | ByName = 7,
    *,
    reason: str | ByName | None = None,
    evidence: Sequence[str] = (EVIDENCE,),
) -> dict[str, Any]:
    """The verdict tool's input: every criterion in ``names`` scored (``score`` and ``reason`` may be
    functions of the criterion's name)."""
    pick = score if callable(score) else (lambda _name: score)
    say = reason if callable(reason) else (lambda name: reason or f"scripted reason for {name}")
    return {"scores": {name: {"reason": say(name), "score": pick(name)} for name in names}, "evidence": list(evidence)}


def verdict(
    request: dict[str, Any],
    score: int | ByName = 7,
    *,
    reason: str | ByName | None = None,
    evidence: Sequence[str] = (EVIDENCE,),
    input_tokens: int = 2000,
    output_tokens: int = 150,
) -> dict[str, Any]:
    """A valid forced-tool verdict (``record_verdict``) scoring every criterion of the request's rubric."""
    return wire.tool_response(
        VERDICT_TOOL,
        verdict_payload(rubric(request), score, reason=reason, evidence=evidence),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )


def tool_use(
    name: str, payload: dict[str, Any], *, input_tokens: int = 2000, output_tokens: int = 150
) -> dict[str, Any]:
    """Any tool call, valid or not (a verdict with a missing criterion, a score out of range)."""
    return wire.tool_response(name, payload, input_tokens=input_tokens, output_tokens=output_tokens)


def preference(
    request: dict[str, Any],
    winner: str,
    *,
    reason: str = "read both",
    input_tokens: int = 1800,
    output_tokens: int = 30,
) -> dict[str, Any]:
    """A pairwise judge's choice (``"A"``, ``"B"`` or ``"tie"``) through the request's own tool."""
    return wire.tool_response(
        tool_name(request), {"reason": reason, "winner": winner}, input_tokens=input_tokens, output_tokens=output_tokens
    )


def throttled() -> wire.ConverseError:
    """Bedrock's ThrottlingException (429)."""
    return wire.throttling_error()


def error(code: str, message: str) -> wire.ConverseError:
    """Any Bedrock error by its code: ``AccessDeniedException``, ``ValidationException``, ..."""
    return wire.ConverseError(code, message)


def no_access() -> wire.ConverseError:
    return error("AccessDeniedException", "You don't have access to the model.")


# --- the fake ------------------------------------------------------------------------------------


def _good_candidate(model_id: str, request: dict) -> dict:
    return answer(answer_text(model_id))


def _good_judge(model_id: str, request: dict) -> dict:
    return verdict(request)


class ScriptedModels:
    """What each call gets, the first rule that applies:

    1. ``replies`` given: the next of them in turn, the last one repeating (a judge's retry dialogue);
    2. ``by_model[model_id]``, when set (one model failing);
    3. ``judge`` for a judge call, else ``candidate`` (by default a good answer and a verdict of 7).

    ``throttle_first``, when set, is a predicate on ``(model_id, request)``: a matching request is
    throttled the first time it is seen, and answered after (a state machine Retry's worth).
    What was asked is kept: ``requests`` (bodies, in order), ``model_ids``, ``answered`` (successful
    replies per distinct request) and ``throttled`` (the requests that were throttled).
    """

    def __init__(
        self,
        *replies: Reply,
        candidate: Reply = _good_candidate,
        judge: Reply = _good_judge,
        by_model: dict[str, Reply] | None = None,
        throttle_first: Callable[[str, dict], bool] | None = None,
    ) -> None:
        self.replies = list(replies)
        self.candidate = candidate
        self.judge = judge
        self.by_model: dict[str, Reply] = dict(by_model or {})
        self.throttle_first = throttle_first
        self.requests: list[dict] = []
        self.model_ids: list[str] = []
        self.answered: Counter[str] = Counter()
        self.throttled: list[str] = []
        self._lock = threading.Lock()

    @staticmethod
    def key(model_id: str, request: dict) -> str:
        """One distinct request: the model, its system prompt and the last user text."""
        return json.dumps([model_id, request.get("system"), wire.last_user_text(request)])

    def answered_by(self, model_id: str) -> Counter[str]:
        return Counter({k: n for k, n in self.answered.items() if json.loads(k)[0] == model_id})

    def __call__(self, model_id: str, request: dict) -> dict:
        key = self.key(model_id, request)
        with self._lock:
            self.requests.append(request)
            self.model_ids.append(model_id)
            turn = len(self.requests)
            throttle = (
                self.throttle_first is not None and key not in self.throttled and self.throttle_first(model_id, request)
            )
            if throttle:
                self.throttled.append(key)
        if throttle:
            raise throttled()
        if self.replies:
            reply = self.replies[min(turn, len(self.replies)) - 1]
        elif model_id in self.by_model:
            reply = self.by_model[model_id]
        else:
            reply = self.judge if is_judge_call(request) else self.candidate
        while callable(reply):
            reply = reply(model_id, request)
        if isinstance(reply, wire.ConverseError):  # a fresh one: a rule's error is raised by many threads
            raise wire.ConverseError(reply.error_type, reply.message, status=reply.status)
        if isinstance(reply, Exception):
            raise reply
        with self._lock:
            self.answered[key] += 1
        return reply


def good_responder(
    *, delay: float = 0.0, judge_delay: float = 0.0, score: int = 7, input_tokens: int = 1200, output_tokens: int = 300
) -> ScriptedModels:
    """Candidates that answer (after ``delay``) and a judge that scores every criterion ``score``."""

    def candidate(model_id: str, request: dict) -> dict:
        time.sleep(delay)
        return answer(answer_text(model_id), input_tokens=input_tokens, output_tokens=output_tokens)

    def judge(model_id: str, request: dict) -> dict:
        time.sleep(judge_delay)
        return verdict(request, score)

    return ScriptedModels(candidate=candidate, judge=judge)


# --- serving it ----------------------------------------------------------------------------------


class ScriptedBackend:
    """``ConverseServer``'s backend around a responder. With ``model_ids`` given, other IDs get
    Bedrock's invalid-model ValidationException; without, any ID is accepted."""

    def __init__(self, responder: Responder, model_ids: Sequence[str] | None = None) -> None:
        self._responder = responder
        self._model_ids = list(model_ids) if model_ids is not None else None

    def model_ids(self) -> list[str]:
        return list(self._model_ids or [])

    def converse(self, model_id: str, request: dict) -> dict:
        if self._model_ids is not None and model_id not in self._model_ids:
            raise wire.invalid_model_error(model_id)
        return self._responder(model_id, request)


@contextmanager
def converse_server(
    responder: Responder,
    *,
    model_ids: Sequence[str] | None = None,
    faults: dict[str, Fault] | None = None,
) -> Iterator[ConverseServer]:
    """A started ConverseServer around ``responder`` (a ``ScriptedModels``), stopped when the block ends."""
    with ConverseServer(ScriptedBackend(responder, model_ids)) as server:
        for model_id, fault in (faults or {}).items():
            server.set_fault(model_id, fault)
        yield server


def bedrock_client(url: str, *, attempts: int = 1, read_timeout: float = 30, connect_timeout: float = 5):
    """A real boto3 bedrock-runtime client aimed at `url`. `attempts` counts the first try, so the
    default of 1 means botocore does not retry: each call is one request and errors surface as sent."""
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            read_timeout=read_timeout,
            connect_timeout=connect_timeout,
        ),
    )
