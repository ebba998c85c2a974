"""The judge: one structured verdict per answer, obtained by forced tool use.

The rubric is the tool's input schema, and ``toolChoice`` forces the judge to call it, so the
verdict arrives as JSON in a ``toolUse`` block instead of free text to be parsed. A verdict that
still fails validation is asked for once more with the error fed back, then recorded as
*unscored* with its reason and raw reply: unscored never counts as 0 and never disappears.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from bakeoff.catalog import load_catalog
from bakeoff.converse import ConverseClient, Tool, build_request, last_json_object, user_message
from bakeoff.errors import RETRYABLE_MODEL_ERRORS, BakeoffError, CheckpointCorruptError
from bakeoff.estimate import cost_usd, judge_max_tokens
from bakeoff.models import CriterionScore, ResolvedCriterion, Usage, Verdict
from bakeoff.observability import logger, record_model_call
from bakeoff.scoring import weighted_score
from bakeoff.storage import Store, checkpoint_key, content_hash

# Part of every verdict's checkpoint key: change it when the prompts or the schema change.
PROMPT_VERSION = "judge/v1"
TOOL_NAME = "record_verdict"
RAW_REPLY_LIMIT = 4000

_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "prompts"),
                         undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)

# Tags the prompt uses as delimiters. A look-alike inside untrusted text (``</article>``, ``< answer``)
# could close the data block early and smuggle instructions in, so it is defanged before rendering.
_DELIMITER = re.compile(r"<\s*/?\s*(article|task_prompt|candidate_answer|rubric|instructions?|system)\b",
                        re.IGNORECASE)


def neutralise(text: str) -> str:
    """Replace ``<`` of any delimiter look-alike with a similar-looking character (U+2039)."""
    return _DELIMITER.sub(lambda m: "\u2039" + m.group(0)[1:], text)


def verdict_schema(criteria: list[ResolvedCriterion]) -> dict[str, Any]:
    """JSON schema of a verdict; ``reason`` comes before ``score`` so the judge reasons first."""
    per_criterion = {
        c.name: {
            "type": "object",
            "description": c.description,
            "properties": {
                "reason": {"type": "string", "maxLength": 300},
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
            "evidence": {"type": "array", "items": {"type": "string", "maxLength": 200}, "maxItems": 3},
        },
        "required": ["scores", "evidence"],
    }


def reply_model(criteria: list[ResolvedCriterion]) -> type[BaseModel]:
    """A pydantic model that accepts exactly this rubric's verdict."""
    scores = create_model("Scores", __config__=ConfigDict(extra="forbid"),
                          **{c.name: (CriterionScore, ...) for c in criteria})
    return create_model("JudgeReply", __config__=ConfigDict(extra="ignore"),
                        scores=(scores, ...), evidence=(list[str], Field(default_factory=list)))


def _example(criteria: list[ResolvedCriterion]) -> str:
    return json.dumps({"scores": {c.name: {"reason": "...", "score": 7} for c in criteria},
                       "evidence": ["a short quote from the article"]})


class Judge:
    """Scores answers with one judge model, through an injected Converse client."""

    def __init__(self, converse: ConverseClient, store: Store, *, judge_model_id: str,
                 criteria: list[ResolvedCriterion], article: str, task_prompt: str, use_cache: bool = True):
        self.converse = converse
        self.store = store
        self.judge_model_id = judge_model_id
        self.criteria = criteria
        self.article = article
        self.task_prompt = task_prompt
        self.use_cache = use_cache
        self.tool_use = load_catalog().supports_tool_use(judge_model_id)
        self.schema = verdict_schema(criteria)
        self.reply_model = reply_model(criteria)
        self.system = _templates.get_template("judge_system.j2").render(
            criteria=criteria, tool_use=self.tool_use, tool_name=TOOL_NAME, example_json=_example(criteria))

    def verdict_key(self, answer_text: str) -> str:
        return checkpoint_key("verdicts", {
            "promptVersion": PROMPT_VERSION,
            "judgeModelId": self.judge_model_id,
            "criteria": [c.dump() for c in self.criteria],
            "article": content_hash(self.article),
            "taskPrompt": content_hash(self.task_prompt),
            "answer": content_hash(answer_text),
        })

    def user_prompt(self, answer_text: str, label: str, feedback: str | None = None) -> str:
        return _templates.get_template("judge_user.j2").render(
            article=neutralise(self.article), task_prompt=neutralise(self.task_prompt),
            answer=neutralise(answer_text), label=label, feedback=feedback,
            names=", ".join(c.name for c in self.criteria))

    def request(self, answer_text: str, label: str, feedback: str | None = None) -> dict[str, Any]:
        tool = Tool(TOOL_NAME, "Record the verdict on the candidate answer.", self.schema) if self.tool_use else None
        return build_request(self.judge_model_id, system=self.system,
                             messages=[user_message(self.user_prompt(answer_text, label, feedback))],
                             max_tokens=judge_max_tokens(len(self.criteria)), temperature=0.0, tool=tool)

    def score(self, model_id: str, answer_text: str, label: str) -> Verdict:
        """The verdict on one answer, from its checkpoint if this exact judgment was made before."""
        key = self.verdict_key(answer_text)
        if self.use_cache:
            try:
                cached = self.store.get_checkpoint(key)
            except CheckpointCorruptError:
                logger.warning("corrupt verdict checkpoint, judging again", extra={"key": key})
                cached = None
            if cached is not None:
                return Verdict.model_validate({**cached, "modelId": model_id, "cached": True})
        verdict = self._judge(model_id, answer_text, label)
        self.store.put_checkpoint(key, verdict.dump())
        return verdict

    def _judge(self, model_id: str, answer_text: str, label: str) -> Verdict:
        usage = Usage()
        feedback: str | None = None
        raw = ""
        for attempt in (1, 2):
            try:
                result = self.converse.converse(self.request(answer_text, label, feedback))
            except RETRYABLE_MODEL_ERRORS:
                raise  # the state machine retries the score step; verdicts so far are checkpointed
            except BakeoffError as exc:
                return Verdict(model_id=model_id, judge_model_id=self.judge_model_id, status="unscored",
                               reason=f"judge call failed: {exc.message}", usage=usage, attempts=attempt)
            usage = usage + result.usage
            record_model_call(self.judge_model_id, "judge", result.usage.input_tokens,
                              result.usage.output_tokens, cost_usd(self.judge_model_id, result.usage),
                              result.latency_ms)
            payload = result.tool_input if result.tool_input is not None else last_json_object(result.text)
            raw = json.dumps(result.tool_input) if result.tool_input is not None else result.text
            if payload is None:
                feedback = ("no verdict found: " + ("call the tool" if self.tool_use else "reply with one JSON object")
                            + f" (stopReason {result.stop_reason})")
                continue
            try:
                reply = self.reply_model.model_validate(payload)
            except ValidationError as exc:
                feedback = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                     for e in exc.errors(include_url=False))[:600]
                continue
            scores = {name: value for name, value in reply.scores.model_dump().items()}
            parsed = {name: CriterionScore.model_validate(value) for name, value in scores.items()}
            return Verdict(model_id=model_id, judge_model_id=self.judge_model_id, status="scored",
                           scores=parsed, evidence=[e[:300] for e in reply.evidence][:5],
                           weighted_score=weighted_score(parsed, self.criteria), usage=usage, attempts=attempt)
        logger.warning("judge reply unusable twice", extra={"modelId": model_id, "reason": feedback})
        return Verdict(model_id=model_id, judge_model_id=self.judge_model_id, status="unscored",
                       reason=f"judge reply unusable after 2 attempts: {feedback}", raw_reply=raw[:RAW_REPLY_LIMIT],
                       usage=usage, attempts=2)
