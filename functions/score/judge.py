"""The judge: one structured verdict per answer (or preference per pair), by forced tool use.

The rubric is the tool's input schema, and ``toolChoice`` forces the judge to call it, so the
verdict arrives as JSON in a ``toolUse`` block instead of free text to be parsed. A verdict that
still fails validation is asked for once more with the error fed back, then recorded as
*unscored* with its reason and raw reply: unscored never counts as 0 and never disappears.
Judges without tool use answer one JSON object, read from the last JSON object in the text.

Every judgment is checkpointed under the hash of what determines it (judge, rubric, prompt
version, article, task prompt, answer text(s)), so a Step Functions retry of the score step,
after a throttled call, re-calls nothing that already succeeded.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from bakeoff.catalog import load_catalog
from bakeoff.converse import ConverseClient, Tool, build_request, last_json_object, user_message
from bakeoff.errors import RETRYABLE_MODEL_ERRORS, BakeoffError, CheckpointCorruptError
from bakeoff.estimate import cost_usd, judge_max_tokens, judge_shared_tokens
from bakeoff.models import CriterionScore, ResolvedCriterion, Usage, Verdict
from bakeoff.observability import logger, record_model_call
from bakeoff.scoring import weighted_score
from bakeoff.storage import Store, checkpoint_key, content_hash
from functions.score.pairwise import Comparison

# Part of every checkpoint key: change them when the prompts or the schemas change.
PROMPT_VERSION = "judge/v1"
PAIRWISE_PROMPT_VERSION = "pairwise/v1"
TOOL_NAME = "record_verdict"
PAIRWISE_TOOL_NAME = "record_preference"
RAW_REPLY_LIMIT = 4000
ANSWER_TAG = "<candidate_answer"  # the first thing in a judge prompt that differs from call to call

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "prompts"),
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)

# Tags the prompt uses as delimiters. A look-alike inside untrusted text (``</article>``, ``< answer``)
# could close the data block early and smuggle instructions in, so it is defanged before rendering.
_DELIMITER = re.compile(
    r"<\s*/?\s*(article|task_prompt|reference_answer|candidate_answer|rubric|instructions?|system)\b", re.IGNORECASE
)


def neutralise(text: str) -> str:
    """Replace ``<`` of any delimiter look-alike with a similar-looking character (U+2039)."""
    return _DELIMITER.sub(lambda m: "\u2039" + m.group(0)[1:], text)


# What a verdict may hold, in one place for the schema, the prompt and the stored verdict. A judge's output
# tokens are its slowest and dearest part (on Bedrock, output costs 4-5x input; locally each one is a
# decode step): one sentence of reason per criterion and two short quotes are what the report shows.
# The limits are in the schema the judge reads, so they shape what it writes, not only where it is cut: at
# 200/150 the 1.5B local judge ran every reason into the cap; at 150/100 its verdicts on a faithful and a
# fabricated answer kept their scores and came out 18-20% shorter (174 -> 143 and 103 -> 82 tokens). The
# checkpoint keys leave the limits out on purpose: a verdict stored under the old ones is still a verdict.
REASON_MAX_CHARS = 150
EVIDENCE_MAX_ITEMS = 2
EVIDENCE_MAX_CHARS = 100


def verdict_schema(criteria: list[ResolvedCriterion]) -> dict[str, Any]:
    """JSON schema of a verdict; ``reason`` comes before ``score`` so the judge reasons first."""
    per_criterion = {
        c.name: {
            "type": "object",
            "description": c.description,
            "properties": {
                "reason": {"type": "string", "maxLength": REASON_MAX_CHARS},
                "score": {"type": "integer", "minimum": 1, "maximum": 10},
            },
            "required": ["reason", "score"],
        }
        for c in criteria
    }
    return {
        "type": "object",
        "properties": {
            "scores": {"type": "object", "properties": per_criterion, "required": [c.name for c in criteria]},
            "evidence": {
                "type": "array",
                "items": {"type": "string", "maxLength": EVIDENCE_MAX_CHARS},
                "maxItems": EVIDENCE_MAX_ITEMS,
            },
        },
        "required": ["scores", "evidence"],
    }


def reply_model(criteria: list[ResolvedCriterion]) -> type[BaseModel]:
    """A pydantic model that accepts exactly this rubric's verdict (one per rubric, built once)."""
    return _reply_model(tuple(c.name for c in criteria))


@functools.lru_cache(maxsize=64)
def _reply_model(names: tuple[str, ...]) -> type[BaseModel]:
    # Building a pydantic model costs ~5 ms; a container scores many items with the same rubric.
    scores = create_model(
        "Scores", __config__=ConfigDict(extra="forbid"), **{name: (CriterionScore, ...) for name in names}
    )
    return create_model(
        "JudgeReply",
        __config__=ConfigDict(extra="ignore"),
        scores=(scores, ...),
        evidence=(list[str], Field(default_factory=list)),
    )


PREFERENCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "maxLength": 400},
        "winner": {"type": "string", "enum": ["A", "B", "tie"]},
    },
    "required": ["reason", "winner"],
}


class PreferenceReply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reason: str = ""
    winner: Literal["A", "B", "tie"]


def _example(criteria: list[ResolvedCriterion]) -> str:
    return json.dumps(
        {
            "scores": {c.name: {"reason": "...", "score": 7} for c in criteria},
            "evidence": ["a short quote from the article"],
        }
    )


@dataclass
class _Asked:
    """What two attempts at one judgment produced: a validated reply, or why there is none."""

    reply: BaseModel | None
    usage: Usage
    attempts: int
    problem: str | None = None
    raw: str = ""
    call_failed: bool = False


class Judge:
    """Scores answers (and compares pairs) with one judge model, through an injected Converse client."""

    def __init__(
        self,
        converse: ConverseClient,
        store: Store,
        *,
        judge_model_id: str,
        criteria: list[ResolvedCriterion],
        article: str,
        task_prompt: str,
        use_cache: bool = True,
        scope: str | None = None,
        prompt_caching: bool = True,
        reference: str | None = None,
    ):
        self.converse = converse
        self.store = store
        self.judge_model_id = judge_model_id
        self.criteria = criteria
        self.article = article
        self.task_prompt = task_prompt
        self.reference = reference  # reference-guided grading (MT-Bench's reference answer), when given
        self.use_cache = use_cache
        self.scope = scope  # the owning API key's ID: its verdicts are cached apart from other keys'
        catalog = load_catalog()
        self.tool_use = catalog.supports_tool_use(judge_model_id)
        info = catalog.get(judge_model_id)
        # A cachePoint only where the model caches prompts (catalog flag), and only when what every call
        # shares (tools, rubric, article, task) can reach the model's minimum: below it nothing is cached.
        shared = judge_shared_tokens(article, task_prompt, len(criteria), judge_model_id)
        self.caching = bool(prompt_caching and info and info.prompt_caching and shared >= (info.cache_min_tokens or 0))
        self.schema = verdict_schema(criteria)
        self.reply_model = reply_model(criteria)
        self.system = _templates.get_template("judge_system.j2").render(
            criteria=criteria,
            tool_use=self.tool_use,
            tool_name=TOOL_NAME,
            example_json=_example(criteria),
            evidence_max_items=EVIDENCE_MAX_ITEMS,
            has_reference=reference is not None,
        )
        self.pairwise_system = _templates.get_template("pairwise_system.j2").render(
            criteria=criteria,
            tool_use=self.tool_use,
            tool_name=PAIRWISE_TOOL_NAME,
            example_json=json.dumps({"reason": "...", "winner": "A"}),
            has_reference=reference is not None,
        )

    # --- keys and prompts ------------------------------------------------------------------

    def _determinants(self, version: str) -> dict[str, Any]:
        return {
            "promptVersion": version,
            "judgeModelId": self.judge_model_id,
            "criteria": [c.dump() for c in self.criteria],
            "article": content_hash(self.article),
            "taskPrompt": content_hash(self.task_prompt),
            # Only when there is one, so verdicts made without a reference keep their checkpoints.
            **({"reference": content_hash(self.reference)} if self.reference is not None else {}),
        }

    def verdict_key(self, answer_text: str) -> str:
        return checkpoint_key(
            "verdicts", {**self._determinants(PROMPT_VERSION), "answer": content_hash(answer_text)}, self.scope
        )

    def comparison_key(self, first_text: str, second_text: str) -> str:
        return checkpoint_key(
            "comparisons",
            {
                **self._determinants(PAIRWISE_PROMPT_VERSION),
                "first": content_hash(first_text),
                "second": content_hash(second_text),
            },
            self.scope,
        )

    def user_prompt(self, answer_text: str, label: str, feedback: str | None = None) -> str:
        return _templates.get_template("judge_user.j2").render(
            article=neutralise(self.article),
            task_prompt=neutralise(self.task_prompt),
            reference=self._reference_text(),
            answer=neutralise(answer_text),
            label=label,
            feedback=feedback,
            names=", ".join(c.name for c in self.criteria),
        )

    def pairwise_prompt(self, first_text: str, second_text: str, feedback: str | None = None) -> str:
        return _templates.get_template("pairwise_user.j2").render(
            article=neutralise(self.article),
            task_prompt=neutralise(self.task_prompt),
            reference=self._reference_text(),
            first=neutralise(first_text),
            second=neutralise(second_text),
            feedback=feedback,
        )

    def _reference_text(self) -> str | None:
        return neutralise(self.reference) if self.reference is not None else None

    def _request(self, system: str, prompt: str, tool: Tool) -> dict[str, Any]:
        message = user_message(prompt)
        if self.caching:
            # What every call shares comes first (the prompts put the article and task before any answer,
            # and neutralise() leaves no "<candidate_answer" in them): the cachePoint goes right after it.
            cut = prompt.index(ANSWER_TAG)
            message = user_message(prompt[cut:], cached_prefix=prompt[:cut])
        return build_request(
            self.judge_model_id,
            system=system,
            messages=[message],
            max_tokens=judge_max_tokens(len(self.criteria)),
            temperature=0.0,
            tool=tool if self.tool_use else None,
        )

    def request(self, answer_text: str, label: str, feedback: str | None = None) -> dict[str, Any]:
        tool = Tool(TOOL_NAME, "Record the verdict on the candidate answer.", self.schema)
        return self._request(self.system, self.user_prompt(answer_text, label, feedback), tool)

    def pairwise_request(self, first_text: str, second_text: str, feedback: str | None = None) -> dict[str, Any]:
        tool = Tool(PAIRWISE_TOOL_NAME, "Record which candidate answer is better.", PREFERENCE_SCHEMA)
        prompt = self.pairwise_prompt(first_text, second_text, feedback)
        return self._request(self.pairwise_system, prompt, tool)

    # --- checkpoints -----------------------------------------------------------------------

    def _cached(self, key: str) -> dict[str, Any] | None:
        if not self.use_cache:
            return None
        try:
            return self.store.get_checkpoint(key)
        except CheckpointCorruptError:
            logger.warning("corrupt judge checkpoint, judging again", extra={"key": key})
            return None

    # --- judgments -------------------------------------------------------------------------

    def score(self, model_id: str, answer_text: str, label: str) -> Verdict:
        """The verdict on one answer, from its checkpoint if this exact judgment was made before."""
        key = self.verdict_key(answer_text)
        cached = self._cached(key)
        if cached is not None:
            return Verdict.model_validate({**cached, "modelId": model_id, "cached": True})
        asked = self._ask(
            lambda feedback: self.request(answer_text, label, feedback),
            self.reply_model,
            what="verdict",
            subject=model_id,
        )
        verdict = self._verdict(model_id, asked)
        if not asked.call_failed:  # a refused call may work once access or quota is fixed: do not keep it
            self.store.put_checkpoint(key, verdict.dump())
        return verdict

    def compare(self, first: tuple[str, str], second: tuple[str, str]) -> Comparison:
        """The judge's preference between two answers (``(model_id, text)``), shown in this order."""
        (first_id, first_text), (second_id, second_text) = first, second
        key = self.comparison_key(first_text, second_text)
        cached = self._cached(key)
        if cached is not None:
            return Comparison.model_validate({**cached, "first": first_id, "second": second_id, "cached": True})
        asked = self._ask(
            lambda feedback: self.pairwise_request(first_text, second_text, feedback),
            PreferenceReply,
            what="preference",
            subject=f"{first_id} vs {second_id}",
        )
        base = {
            "judge_model_id": self.judge_model_id,
            "first": first_id,
            "second": second_id,
            "usage": asked.usage,
            "attempts": asked.attempts,
        }
        if isinstance(asked.reply, PreferenceReply):
            winner = {"A": "first", "B": "second", "tie": "tie"}[asked.reply.winner]
            comparison = Comparison(**base, status="decided", winner=winner, reason=asked.reply.reason[:400])
        else:
            comparison = Comparison(
                **base, status="unscored", reason=asked.problem, raw_reply=asked.raw[:RAW_REPLY_LIMIT] or None
            )
        if not asked.call_failed:
            self.store.put_checkpoint(key, comparison.dump())
        return comparison

    def _verdict(self, model_id: str, asked: _Asked) -> Verdict:
        base = {
            "model_id": model_id,
            "judge_model_id": self.judge_model_id,
            "usage": asked.usage,
            "attempts": asked.attempts,
        }
        if asked.reply is None:
            return Verdict(
                **base, status="unscored", reason=asked.problem, raw_reply=asked.raw[:RAW_REPLY_LIMIT] or None
            )
        parsed = {name: CriterionScore.model_validate(value) for name, value in asked.reply.scores.model_dump().items()}  # type: ignore[attr-defined]
        return Verdict(
            **base,
            status="scored",
            scores=parsed,
            evidence=[e[:EVIDENCE_MAX_CHARS] for e in asked.reply.evidence][:EVIDENCE_MAX_ITEMS],  # type: ignore[attr-defined]
            weighted_score=weighted_score(parsed, self.criteria),
        )

    def _ask(
        self, build: Callable[[str | None], dict[str, Any]], model: type[BaseModel], *, what: str, subject: str
    ) -> _Asked:
        """Up to two calls: the second carries the first reply's problem as feedback.

        Retryable errors (throttling, timeouts, service errors) propagate, so the state machine
        retries the whole step; everything judged so far is checkpointed by then.
        """
        usage = Usage()
        feedback: str | None = None
        raw = ""
        for attempt in (1, 2):
            try:
                result = self.converse.converse(build(feedback))
            except RETRYABLE_MODEL_ERRORS:
                raise
            except BakeoffError as exc:
                return _Asked(None, usage, attempt, problem=f"judge call failed: {exc.message}", call_failed=True)
            usage = usage + result.usage
            record_model_call(
                self.judge_model_id,
                "judge",
                result.usage.input_tokens,
                result.usage.output_tokens,
                cost_usd(self.judge_model_id, result.usage),
                result.latency_ms,
            )
            payload = result.tool_input if result.tool_input is not None else last_json_object(result.text)
            raw = json.dumps(result.tool_input) if result.tool_input is not None else result.text
            if payload is None:
                wanted = "call the tool" if self.tool_use else "reply with one JSON object"
                feedback = f"no {what} found: {wanted} (stopReason {result.stop_reason})"
                continue
            try:
                return _Asked(model.model_validate(payload), usage, attempt)
            except ValidationError as exc:
                feedback = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or '(reply)'}: {e['msg']}" for e in exc.errors(include_url=False)
                )[:600]
        logger.warning(f"judge {what} unusable twice", extra={"subject": subject, "reason": feedback})
        return _Asked(None, usage, 2, problem=f"judge reply unusable after 2 attempts: {feedback}", raw=raw)
