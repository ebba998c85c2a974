"""``reports/<id>/report.json``: the record of one evaluation, from which the page and the CSV are rendered.

``Report`` is the contract: the report step builds it and writes ``Report.dump()``; the renderers read
only the model. ``docs/report-schema.md`` is generated from ``Report.model_json_schema()``
(``tools/dev/report_schema.py``; a unit test fails when the doc is stale). Adding an optional field does
not change ``SCHEMA_VERSION``; removing, renaming or changing the meaning or type of one bumps it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from bakeoff.arena import ArenaSection
from bakeoff.document import Document
from bakeoff.judge_health import JudgeHealth
from bakeoff.models import Contract, CostEstimate, CriterionScore, EvaluationRequest, ResolvedCriterion, Usage
from bakeoff.repeats import RepeatsSection
from bakeoff.scores import JudgeCalls, ReferenceMetrics, TextMetrics
from bakeoff.trend import request_key

SCHEMA_VERSION = 1

ScoreStatus = Literal["scored", "unscored", "not judged"]


class ErrorNote(Document):
    """An error for people: its name (a domain error such as ``ModelThrottledError``) and message."""

    error: str
    message: str


class EntryEstimate(Document):
    """The preflight estimate for one model; output tokens are the ``maxTokens`` ceiling."""

    input_tokens: int
    output_tokens: int
    cost_usd: Annotated[float | None, Field(description="null: the model has no price.")]


def candidate_estimates(estimate: CostEstimate) -> dict[str, EntryEstimate]:
    """Each candidate's line of the preflight estimate, by model ID."""
    return {
        line.model_id: EntryEstimate(
            input_tokens=line.input_tokens, output_tokens=line.output_tokens, cost_usd=line.cost_usd
        )
        for line in estimate.lines
        if line.role == "candidate"
    }


class MeanScore(Document):
    """A dataset's criterion score: the mean over the scored items (not an integer)."""

    score: float
    reason: str


class ModelEntry(Document):
    """One candidate. ``models`` lists them in leaderboard order: scored by ``weightedScore``
    descending, then unscored, then failed."""

    model_id: Annotated[str, Field(description="As requested (Bedrock model ID, inference profile or local model ID).")]
    name: Annotated[str, Field(description="Display name from the catalog, else the ID.")]
    status: Annotated[Literal["ok", "failed"], Field(description="failed: no usable answer after retries; see error.")]
    estimate: Annotated[
        EntryEstimate | None,
        Field(
            description="This model's preflight estimate (single article); otherwise see the top-level estimate.lines."
        ),
    ] = None
    output: Annotated[
        str | None,
        Field(
            description="The answer, verbatim. Untrusted text: render it escaped. "
            "null when failed, and in a dataset report."
        ),
    ]
    usage: Annotated[
        Usage, Field(description="Tokens as billed; a failure after the model answered can still carry usage.")
    ]
    latency_ms: Annotated[
        int | None, Field(description="Time to the full answer (a dataset: the mean); null when failed.")
    ]
    stop_reason: Annotated[str | None, Field(description="ok only: Converse stopReason.")] = None
    cached: Annotated[bool | None, Field(description="ok only: the answer was reused from a checkpoint.")] = None
    cost_usd: Annotated[
        float | None,
        Field(
            description="This model's answers (0 for local models); null for "
            "a model with no price, which then has unpriced: true."
        ),
    ]
    unpriced: Annotated[bool | None, Field(description="true: the model has no price (allowUnpriced).")] = None
    inference: Annotated[
        Literal["batch"] | None,
        Field(
            description="batch: (some of) its answers came from Bedrock batch inference jobs, priced at batch rates."
        ),
    ] = None
    batch_answers: Annotated[int | None, Field(description="Dataset, batch mode: answers made by batch jobs.")] = None
    reference_metrics: Annotated[
        ReferenceMetrics | None,
        Field(description="Dataset: mean ROUGE-L and token F1 against the items' reference answers."),
    ] = None
    new_cost_usd: Annotated[
        float | None, Field(description="Dataset: what this run paid for the answers not reused from checkpoints.")
    ] = None
    on_demand_cost_usd: Annotated[
        float | None, Field(description="Batch mode: what the same tokens would have cost on-demand.")
    ] = None
    score_status: Annotated[
        ScoreStatus,
        Field(
            description="unscored: the judge's reply failed validation "
            "even after one retry; not judged: the model failed, or the "
            "judge step failed for good (see judgeFailure)."
        ),
    ]
    scores: Annotated[
        dict[str, CriterionScore | MeanScore], Field(description="{criterion: {score, reason}}; empty unless scored.")
    ]
    evidence: Annotated[
        list[str] | None,
        Field(
            description="Article passages the judge quoted: at most 2 of "
            "at most 100 characters each from one judge (the judge's tool "
            "schema, prompt and parser share these limits), up to 5 from a "
            "panel. Untrusted text."
        ),
    ] = None
    weighted_score: Annotated[
        float | None,
        Field(
            description="Weighted mean of scores by criterion weight, 0-10; null unless scored, never 0 in its place."
        ),
    ]
    mean_score: Annotated[
        float | None,
        Field(description="Dataset only: the mean weighted score over the scored items (the same as weightedScore)."),
    ] = None
    ci95: Annotated[list[float] | None, Field(description="Dataset only: 95% confidence interval of meanScore.")] = None
    items: Annotated[int | None, Field(description="Dataset only: items with a scored answer.")] = None
    failed: Annotated[int | None, Field(description="Dataset only: items whose answer failed.")] = None
    unscored: Annotated[int | None, Field(description="Dataset only: items whose answer was unscored.")] = None
    judge_usage: Annotated[Usage | None, Field(description="Scored or unscored: the verdict's own judge calls.")] = None
    judge_cost_usd: Annotated[
        float | None, Field(description="The cost of those calls (a dataset: over every item).")
    ] = None
    judge_cached: Annotated[bool | None, Field(description="The verdict was reused from a checkpoint.")] = None
    panel: Annotated[
        dict[str, float | None] | None, Field(description="Judge panel only: {judgeModelId: weightedScore}.")
    ] = None
    metrics: TextMetrics | None = None
    tie: Annotated[bool | None, Field(description="Its gap to another ranked model is within the judge's noise.")] = (
        None
    )
    tied_with: Annotated[
        list[str] | None, Field(description="The models it is tied with (ties are not transitive).")
    ] = None
    unscored_reason: Annotated[str | None, Field(description="Unscored or not judged: why.")] = None
    raw_judge_reply: Annotated[str | None, Field(description="Unscored only: the judge's reply, kept verbatim.")] = None
    error: Annotated[ErrorNote | None, Field(description="Failed only.")] = None
    rank: Annotated[int | None, Field(description="Scored only; 1 = best.")] = None


class Totals(Document):
    """Counts and costs over every model. ``inputTokens``/``outputTokens`` are the candidates' only."""

    models: int
    ok: int
    failed: int
    scored: int
    unscored: int
    input_tokens: int
    output_tokens: int
    candidate_cost_usd: float
    judge_cost_usd: Annotated[
        float, Field(description="Every judge call, also those on no model's behalf (control answer, pairwise).")
    ]
    total_cost_usd: Annotated[float, Field(description="candidateCostUsd + judgeCostUsd.")]
    unpriced_models: Annotated[
        list[str] | None,
        Field(description="Models with no price (allowUnpriced): every cost total counts the priced models only."),
    ] = None
    items: Annotated[int | None, Field(description="Dataset only.")] = None
    new_spend_usd: Annotated[
        float | None,
        Field(
            description="What this run put on the bill: answers and verdicts reused from checkpoints were paid for "
            "by an earlier run (the CostUsd metric, and so the cost alarms, count only this)."
        ),
    ] = None
    answers: Annotated[int | None, Field(description="Dataset only: answers that reached the judge.")] = None
    failed_answers: Annotated[int | None, Field(description="Dataset only.")] = None


class BedrockEquivalentRow(Document):
    model_id: str
    name: str
    cost_usd: float


class DatasetRow(Document):
    """One model's result on one item."""

    item_id: str
    model_id: str
    status: Literal["ok", "failed"]
    score_status: ScoreStatus
    weighted_score: float | None
    scores: dict[str, int | float]
    usage: Annotated[Usage | None, Field(description="null when the item has no answer from this model.")]
    latency_ms: int | None
    judge_cost_usd: float
    error: str | None
    inference: Annotated[str | None, Field(description="batch: the answer came from a batch inference job.")] = None
    cached: Annotated[bool | None, Field(description="The answer was reused from a checkpoint.")] = None
    reference_metrics: Annotated[
        ReferenceMetrics | None, Field(description="This answer against the item's reference answer.")
    ] = None


class PerItem(Document):
    item_id: str
    scores: Annotated[dict[str, float | str], Field(description="{modelId: weighted score, or 'failed' / 'unscored'}.")]
    reference: Annotated[str | None, Field(description="The item's reference answer, when it has one.")] = None


class DatasetSection(Document):
    """Dataset mode: per-model statistics over the items, and every item's rows."""

    items: int
    model_ids: list[str]
    items_without_scores: int
    statistics: Annotated[
        dict[str, Any],
        Field(
            description="models (meanScore, ci95, criteria...), winRates, "
            "topTwo (a paired test between the top two), sentences."
        ),
    ]
    sentences: list[str]
    per_item: Annotated[
        list[PerItem], Field(description="At most the first 2,000 items (see perItemTruncated); rows keeps all.")
    ]
    per_item_truncated: bool
    items_with_reference: Annotated[int | None, Field(description="Items that gave a reference answer.")] = None
    rows: list[DatasetRow]


class Report(Document):
    """``report.json``. A value that does not exist is null or absent, never 0."""

    schema_version: Annotated[int, Field(description="1. Adding an optional field does not change it.")]
    evaluation_id: Annotated[str, Field(description="The Step Functions execution name.")]
    created_at: Annotated[str, Field(description="When the request was validated (ISO 8601).")]
    reported_at: Annotated[str, Field(description="When this report was assembled (to the second).")]
    wall_time_seconds: Annotated[float | None, Field(description="Request to report.")] = None
    title: Annotated[str | None, Field(description="The request's title.")]
    judge_model_id: Annotated[str, Field(description="The primary judge.")]
    judge_model_ids: Annotated[list[str], Field(description="Every judge (more than one for a panel).")]
    criteria: Annotated[list[ResolvedCriterion], Field(description="In rubric order; weight 1-10.")]
    prompt: Annotated[str, Field(description="The prompt every candidate received (with the article).")]
    reference: Annotated[
        str | None,
        Field(description="One article: the reference answer the judge graded against (request field reference)."),
    ] = None
    warnings: Annotated[
        list[str], Field(description="Set by validation, e.g. a judge from a candidate's model family.")
    ]
    notices: Annotated[
        list[str], Field(description="Plain statements for the reader, e.g. that tiny local judges are weak.")
    ]
    estimated_cost_usd: Annotated[float, Field(description="The preflight estimate's total.")]
    estimate: Annotated[CostEstimate, Field(description="The preflight estimate, made before any model was called.")]
    bedrock_equivalent: Annotated[
        list[BedrockEquivalentRow] | None,
        Field(description="Local runs: what this run's tokens would cost on each Bedrock model."),
    ] = None
    bedrock_equivalent_basis: Annotated[str | None, Field(description="Which tokens were priced, in words.")] = None
    models: Annotated[list[ModelEntry], Field(description="One entry per candidate, in leaderboard order.")]
    ranking: Annotated[list[str], Field(description="The ranked (scored) models, best first.")]
    winner: Annotated[str | None, Field(description="ranking[0], or null when nothing was scored.")]
    totals: Annotated[Totals, Field(description="Counts, tokens and costs; the canonical cost totals.")]
    judge_cost_usd: Annotated[
        float, Field(description="Kept for compatibility: the same as totals.judgeCostUsd, which is canonical.")
    ]
    total_cost_usd: Annotated[
        float, Field(description="Kept for compatibility: the same as totals.totalCostUsd, which is canonical.")
    ]
    judge_health: Annotated[JudgeHealth, Field(description="How far to trust the judge on this run.")]
    judge_calls: Annotated[
        JudgeCalls | None,
        Field(
            description="Every judge call summed: tokens (prompt-cache "
            "reads and writes included), cost, the saving against uncached, new spend."
        ),
    ] = None
    judge_failure: Annotated[
        ErrorNote | None,
        Field(description="The judge step failed past every retry: the report is still written, with no ranking."),
    ] = None
    dataset: Annotated[DatasetSection | None, Field(description="Dataset mode only.")] = None
    arena: Annotated[
        ArenaSection | None,
        Field(
            description="mode arena only: Bradley-Terry ratings from the "
            "pairwise verdicts, raw and length-controlled, with bootstrap CIs over items."
        ),
    ] = None
    repeats: Annotated[
        RepeatsSection | None,
        Field(description="repeats > 1 only: each model's spread over its repeats, items as clusters."),
    ] = None
    request: Annotated[
        EvaluationRequest,
        Field(description="The validated request, defaults filled in: enough to run the evaluation again."),
    ]

    @model_validator(mode="after")
    def _copies_agree(self) -> Report:
        if (self.judge_cost_usd, self.total_cost_usd) != (self.totals.judge_cost_usd, self.totals.total_cost_usd):
            raise ValueError(
                "judgeCostUsd and totalCostUsd must equal totals.judgeCostUsd and "
                "totals.totalCostUsd (the top-level pair is a compatibility copy)"
            )
        return self


class HeadlineTotals(Contract):
    models: int
    failed: int
    total_cost_usd: float


class HeadlineModel(Contract):
    model_id: str
    name: str | None = None
    weighted_score: float | None = None


class HeadlineHealth(Contract):
    control_passed: bool | None = None


class ReportHeadline(Contract):
    """The part of ``report.json`` the index lists, read leniently (unknown fields ignored): every
    schema-1 report has it, so a report written by an earlier version still gets its row."""

    evaluation_id: str
    created_at: str
    title: str | None = None
    winner: str | None = None
    totals: HeadlineTotals
    models: list[HeadlineModel] = []
    judge_health: HeadlineHealth | None = None
    request: dict[str, Any] | None = None


class IndexRow(Document):
    """One evaluation's line in ``reports/index.json`` (and ``index.html``)."""

    evaluation_id: str
    created_at: str
    title: str | None
    winner: str | None
    total_cost_usd: float
    models: int
    failed: int
    status: Annotated[Literal["ok", "partial"], Field(description="partial: some model failed.")]
    winner_name: Annotated[str | None, Field(description="The winner's display name.")] = None
    winner_score: Annotated[float | None, Field(description="The winner's weighted score.")] = None
    judge_health_failed: Annotated[
        bool | None,
        Field(description="true: the control check failed (the judge did not score a corrupted answer lower)."),
    ] = None
    request_key: Annotated[
        str | None, Field(description="Fingerprint of the work asked (bakeoff.trend): runs of one request share it.")
    ] = None

    @classmethod
    def of(cls, report: Report | ReportHeadline) -> IndexRow:
        winner = next((m for m in report.models if m.model_id == report.winner), None)
        health = report.judge_health
        return cls(
            winner_name=winner.name if winner else None,
            winner_score=winner.weighted_score if winner else None,
            judge_health_failed=(health.control_passed is False) if health is not None else None,
            request_key=request_key(report.request),
            evaluation_id=report.evaluation_id,
            created_at=report.created_at,
            title=report.title,
            winner=report.winner,
            total_cost_usd=report.totals.total_cost_usd,
            models=report.totals.models,
            failed=report.totals.failed,
            status="ok" if report.totals.failed == 0 else "partial",
        )


class ReportsIndex(Document):
    """``reports/index.json``: every evaluation, newest ``createdAt`` first."""

    evaluations: list[IndexRow]
