"""``evaluations/<id>/scores.json``: what the score step hands the report step.

Written by ``functions/score/service.py`` from ``ScoresDocument`` and read back into it by the
report builders. When the judge fails for good, the score step writes the short form (the branch
results and ``judgeFailure`` only), so a dataset report can still show that item's answers.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from bakeoff.document import Document
from bakeoff.judge_health import JudgeMeasures
from bakeoff.models import ModelResult, Usage, Verdict


class ReferenceMetrics(Document):
    """How close an answer came to the reference answer (a dataset model entry: the means over items)."""

    rouge_l: float | None
    token_f1: float | None
    items: Annotated[int | None, Field(description="Dataset means only: items that had a reference.")] = None


class TextMetrics(Document):
    """Deterministic measures of one answer against the article; no model involved."""

    word_count: int
    compression_ratio: Annotated[
        float | None, Field(description="Article words per answer word: 4.0 is a quarter of the article's length.")
    ]
    unsupported_numbers: Annotated[list[str], Field(description="In the answer, not in the article.")]
    unsupported_names: Annotated[list[str], Field(description="In the answer, not in the article.")]
    rouge_l: Annotated[float | None, Field(description="Against the article, 0-1.")]
    reference: Annotated[
        ReferenceMetrics | None, Field(description="With a reference answer: ROUGE-L and token F1 against it, 0-1.")
    ] = None


class ModelScores(Verdict):
    """One model's verdict (a panel's combined), with what the score step adds to it."""

    judge_cost_usd: Annotated[float, Field(description="This model's own judge calls.")]
    panel: Annotated[
        dict[str, float | None] | None, Field(description="Judge panel only: {judgeModelId: weightedScore}.")
    ] = None
    metrics: TextMetrics | None = None
    tie: bool = False
    tied_with: list[str] = []


class JudgeCalls(Document):
    """Every judge call of the step, also those on no model's behalf (the control, pairwise)."""

    count: int
    usage: Usage
    cost_usd: float
    cached: Annotated[int | None, Field(description="Judgments reused from a checkpoint.")] = None
    uncached_cost_usd: Annotated[
        float | None, Field(description="The same calls with every input token at the input price (no prompt cache).")
    ] = None
    cache_saving_usd: Annotated[float | None, Field(description="uncachedCostUsd - costUsd.")] = None
    new_spend_usd: Annotated[
        float | None,
        Field(description="What this run spent: judgments reused from checkpoints were paid for by an earlier run."),
    ] = None


class JudgeFailureNote(Document):
    """The judge's error when it failed past every retry: its name (the ASL error) and message."""

    error: str
    message: str


class RepeatScore(Document):
    """One repeat's verdict (a panel's combined) on one model's answer: what the spread is computed from."""

    repeat: Annotated[int, Field(description="1..repeats; repeat 1 is the answer ``models`` holds in full.")]
    status: Literal["scored", "unscored"]
    weighted_score: float | None = None
    scores: Annotated[dict[str, int], Field(description="{criterion: score}.")] = {}
    judge_cost_usd: float = 0.0
    cached: Annotated[bool, Field(description="Every verdict of this repeat came from a checkpoint.")] = False


class ScoresDocument(Document):
    """``scores.json``. ``models`` and ``judgeHealth`` are absent when ``judgeFailure`` is present."""

    judge_model_id: str | None = None
    judge_model_ids: list[str]
    verdicts: Annotated[list[Verdict] | None, Field(description="Every judge's verdict on every answer.")] = None
    models: dict[str, ModelScores] = {}
    judge_health: JudgeMeasures | None = None
    judge_calls: JudgeCalls | None = None
    results: Annotated[
        list[ModelResult],
        Field(
            description="The branch results: in dataset mode the report "
            "reads each item from here (a Distributed Map's own results "
            "would outgrow the state payload limit)."
        ),
    ]
    judge_failure: JudgeFailureNote | None = None
    reference: Annotated[str | None, Field(description="The reference answer the judge graded against.")] = None
    repeats: Annotated[
        dict[str, list[RepeatScore]] | None,
        Field(
            description="repeats > 1 only: {modelId: every scored or unscored repeat, in order}. Repeats after "
            "the first are scored on the rubric alone (no control, probes or pairwise comparisons)."
        ),
    ] = None
