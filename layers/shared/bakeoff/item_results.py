"""``reports/<id>/results.jsonl``: a dataset evaluation's full per-item export, one ``ItemResult`` a line.

``report.json`` stays lean (its ``dataset.rows`` carry each item's scores, no text): the answers, the
judge's reasons and the references live here, one line per item x model, in the dataset's item order
and each item's lines in the request's model order. The report step writes it from the model
(``dump_jsonl``) and anything that reads it back goes through the model too (``parse_jsonl``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import Field

from bakeoff.document import Document
from bakeoff.models import CriterionScore, Usage
from bakeoff.report import ErrorNote, ScoreStatus
from bakeoff.scores import ReferenceMetrics, RepeatScore


class ItemResult(Document):
    """One model's result on one dataset item: its answer, what it cost, and the judge's verdict."""

    evaluation_id: Annotated[str, Field(description="The dataset evaluation (not the item's child execution).")]
    item_id: str
    model_id: str
    status: Annotated[Literal["ok", "failed"], Field(description="failed: no answer; see error.")]
    score_status: Annotated[
        ScoreStatus, Field(description="scored, unscored (the judge's reply failed validation) or not judged.")
    ]
    answer: Annotated[
        str | None,
        Field(
            description="The answer, verbatim (untrusted text). null when the model failed, or when its "
            "answer checkpoint could no longer be read (see answerMissing)."
        ),
    ]
    answer_missing: Annotated[
        str | None, Field(description="Why an ok answer's text is absent (its checkpoint is gone or corrupt).")
    ] = None
    stop_reason: str | None = None
    usage: Annotated[Usage | None, Field(description="Tokens as billed; null when the model never answered.")]
    cost_usd: Annotated[
        float | None,
        Field(
            description="This answer (a batch answer at batch rates); null: the model has no price, or no "
            "usage was recorded (a failure)."
        ),
    ]
    latency_ms: Annotated[int | None, Field(description="Time to the full answer.")]
    cached: Annotated[bool | None, Field(description="The answer was reused from a checkpoint.")] = None
    inference: Annotated[Literal["batch"] | None, Field(description="batch: a batch inference job made it.")] = None
    weighted_score: Annotated[
        float | None, Field(description="0-10, the criteria weighted; null unless scored, never 0 in its place.")
    ]
    scores: Annotated[
        dict[str, CriterionScore],
        Field(description="{criterion: {score 1-10, reason}}: the judge's score and reason; empty unless scored."),
    ]
    evidence: Annotated[list[str] | None, Field(description="Article passages the judge quoted.")] = None
    unscored_reason: Annotated[str | None, Field(description="Unscored or not judged: why.")] = None
    judge_cost_usd: Annotated[float, Field(description="The judge calls on this answer's behalf.")]
    error: Annotated[ErrorNote | None, Field(description="Failed only: the error's name and message.")] = None
    reference: Annotated[str | None, Field(description="The item's reference answer, when it has one.")] = None
    reference_metrics: Annotated[
        ReferenceMetrics | None, Field(description="This answer against the reference: ROUGE-L and token F1.")
    ] = None
    repeats: Annotated[
        list[RepeatScore] | None,
        Field(
            description="repeats > 1 only: every repeat's verdict (weighted score, scores); answer, scores and "
            "reasons above are repeat 1's, weightedScore the mean over the scored repeats."
        ),
    ] = None


# Characters JSON leaves raw that some line readers take for line ends (Python's str.splitlines, editors,
# JavaScript before ES2019): escaped, so that only "\n" ever ends a line of the file.
_LINE_BREAKERS = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _one_line(line: ItemResult) -> str:
    text = json.dumps(line.dump(), ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in _LINE_BREAKERS.items():
        text = text.replace(raw, escaped)
    return text + "\n"


def dump_jsonl(lines: Iterable[ItemResult]) -> str:
    """The lines as JSON Lines: compact, one object a line, UTF-8 characters as themselves."""
    return "".join(_one_line(line) for line in lines)


def parse_jsonl(text: str) -> list[ItemResult]:
    """``results.jsonl`` read back into its model (blank lines skipped)."""
    return [ItemResult.model_validate_json(line) for line in text.split("\n") if line.strip()]
