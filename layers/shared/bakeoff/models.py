"""Contracts between the states of the evaluation workflow.

One model per state boundary: the request (from outside, strict), the Map item, a branch result
(with an explicit status), a judge verdict and the report. JSON field names are camelCase, as the
request and ``report.json`` promise; Python attributes are snake_case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from bakeoff.probes import DEFAULT_PROBES, PROBE_KINDS, ProbeKind
from bakeoff.quota import quota_concurrency
from bakeoff.text import visible


class Contract(BaseModel):
    """Internal state payloads: camelCase on the wire, tolerant of added fields."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class StrictContract(Contract):
    """Input from outside (the API, a CI job, a file): unknown fields are errors, not ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# --- the request -----------------------------------------------------------------------------


def _unique(values: list[str]) -> list[str]:
    dupes = sorted({v for v in values if values.count(v) > 1})
    if dupes:
        raise ValueError(f"model IDs must be unique; repeated: {', '.join(dupes)}")
    return values


def _unique_probes(kinds: list[str] | None) -> list[str] | None:
    dupes = sorted({k for k in kinds or [] if kinds.count(k) > 1})  # type: ignore[union-attr]
    if dupes:
        raise ValueError(f"each probe kind once; repeated: {', '.join(dupes)}")
    return kinds


# Each repeat is a full candidate call and judge call: ten already multiplies a run's cost tenfold.
MAX_REPEATS = 10


def _repeats_in_range(k: int) -> int:
    if not 1 <= k <= MAX_REPEATS:
        raise ValueError(
            f"repeats is {k}; give 1 (each model answers once) to {MAX_REPEATS}: each repeat is another "
            "paid candidate call and judge call per model and article"
        )
    return k


CRITERION_NAME = r"^[A-Za-z][A-Za-z0-9_\-]{0,39}$"


class Criterion(StrictContract):
    weight: Annotated[int, Field(ge=1, le=10, description="Relative weight, 1-10.")]
    description: Annotated[
        str | None,
        Field(
            min_length=10, max_length=500, description="What the judge should look for. Optional for built-in criteria."
        ),
        AfterValidator(visible),
    ] = None


class DatasetRef(StrictContract):
    s3_uri: Annotated[
        str,
        Field(
            pattern=r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+",
            alias="s3Uri",
            description="s3://bucket/key of a JSONL file",
        ),
    ]


# A reference answer is read by the judge with every answer it scores, so it is held to the size of an
# answer (the longest prompt), not of an article.
REFERENCE_MAX_CHARS = 20_000


def _reference_text(text: str | None) -> str | None:
    """A pydantic ``AfterValidator`` for a reference answer: visible text, at most REFERENCE_MAX_CHARS."""
    visible(text)
    if text is not None and len(text) > REFERENCE_MAX_CHARS:
        raise ValueError(
            f"the reference answer has {len(text):,} characters, over the limit of "
            f"{REFERENCE_MAX_CHARS:,}: the judge reads it beside every answer, so give the answer you "
            "expect (a summary, a script), not a source text"
        )
    return text


ReferenceText = Annotated[
    str,
    Field(
        json_schema_extra={"maxLength": REFERENCE_MAX_CHARS},
        description="A reference answer: what a good answer says. The judge "
        "grades against it (and the article); text metrics compare with it.",
    ),
    AfterValidator(_reference_text),
]


class DatasetItem(StrictContract):
    """One line of a dataset."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
    article: Annotated[str, Field(min_length=100, max_length=50_000), AfterValidator(visible)]
    reference: ReferenceText | None = None


# See EvaluationRequest._omit_later_defaults.
LATER_DEFAULTS: dict[str, Any] = {"repeats": 1, "pass_score": None}


def _weight_only(value: object) -> object:
    """``"accuracy": 5`` is shorthand for ``"accuracy": {"weight": 5}``: one shape, one set of errors."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"weight": value}
    return value


class EvaluationRequest(StrictContract):
    """What a user sends: one article, the candidate models, their prompt and the rubric."""

    article: Annotated[
        str | None,
        Field(min_length=100, max_length=50_000, description="The source text every model works from."),
        AfterValidator(visible),
    ] = None
    dataset: Annotated[
        DatasetRef | None,
        Field(description="Instead of one article: a JSONL object in S3, one {id, article, reference?} per line."),
    ] = None
    models: Annotated[
        list[Annotated[str, Field(min_length=3, max_length=200)]],
        Field(min_length=1, max_length=5, description="1-5 candidate Bedrock model IDs."),
        AfterValidator(_unique),
    ]
    prompt: Annotated[
        str,
        Field(min_length=10, max_length=20_000, description="System prompt given to every candidate."),
        AfterValidator(visible),
    ]
    scoring_criteria: Annotated[
        dict[Annotated[str, Field(pattern=CRITERION_NAME)], Annotated[Criterion, BeforeValidator(_weight_only)]],
        Field(
            min_length=1,
            max_length=12,
            description="Criterion name → weight 1-10, or {weight, description} for a custom criterion.",
        ),
    ]
    judge_model_id: Annotated[
        str | None, Field(max_length=200, description="The judge; default: the deployment's JudgeModelId.")
    ] = None
    judges: Annotated[
        list[Annotated[str, Field(min_length=3, max_length=200)]] | None,
        Field(
            min_length=2,
            max_length=3,
            description="A judge panel: 2-3 judge model IDs from different families, instead of judgeModelId.",
        ),
        AfterValidator(lambda v: _unique(v) if v else v),
    ] = None
    mode: Annotated[
        Literal["single", "pairwise", "arena"],
        Field(
            description="single: each answer scored on "
            "the rubric; pairwise: also every pair compared in both orders; arena: pairwise, and the "
            "report fits Bradley-Terry ratings (raw and length-controlled) with bootstrap CIs over items."
        ),
    ] = "single"
    control_answer: Annotated[
        bool, Field(description="Also judge a corrupted copy of the best answer, to check that the judge notices.")
    ] = True
    judge_probes: Annotated[
        list[ProbeKind] | None,
        Field(
            max_length=len(PROBE_KINDS),
            description="Probes of the judge: copies of the best answer "
            "with one kind of error planted (number, negation, name, claim), each judged (one more judge call "
            "per kind) to show which kinds the judge misses. Default: none.",
        ),
        AfterValidator(_unique_probes),
    ] = None
    reference: Annotated[
        ReferenceText | None,
        Field(description="A reference answer for the article (one article only; a dataset gives one per line)."),
    ] = None
    max_tokens: Annotated[int, Field(ge=16, le=8192, description="Output cap per candidate answer.")] = 1024
    repeats: Annotated[
        int,
        Field(
            json_schema_extra={"minimum": 1, "maximum": MAX_REPEATS},
            description="Ask each candidate this many times per article (distinct seeds where the model takes "
            "one, else its temperature alone varies the answers); each answer is judged and the report shows "
            "the spread. Every call is paid for: candidate and judge calls scale with it.",
        ),
        AfterValidator(_repeats_in_range),
    ] = 1
    pass_score: Annotated[
        float | None,
        Field(
            ge=0,
            le=10,
            description="With repeats: an answer passes at this weighted score or above; the report gives "
            "pass^k per model (the share of items where every repeat passed).",
        ),
    ] = None
    temperature: Annotated[float, Field(ge=0.0, le=1.0)] = 0.7
    budget_usd: Annotated[
        float | None, Field(gt=0, le=1000, description="Refuse the run if its estimate is higher.")
    ] = None
    strict_judge: Annotated[bool, Field(description="Refuse a judge from a candidate's model family.")] = False
    use_cache: Annotated[bool, Field(description="Reuse checkpointed answers and verdicts.")] = True
    allow_unpriced: Annotated[bool, Field(description="Accept model IDs that have no price.")] = False
    title: Annotated[str | None, Field(max_length=200), AfterValidator(visible)] = None
    deadline_seconds: Annotated[
        int | None,
        Field(
            ge=10,
            le=86_400,
            description="Seconds from acceptance after "
            "which no model is called any more and the report is written with what there "
            "is; default: the deployment's EvaluationDeadlineSeconds (single article) or "
            "none (dataset).",
        ),
    ] = None
    inference: Annotated[
        Literal["on-demand", "batch"],
        Field(
            description="How the candidates answer a dataset: "
            "on-demand (Converse, one call per answer), or batch (one Bedrock batch inference job per "
            "model, billed at batch rates; needs at least 100 items)."
        ),
    ] = "on-demand"
    batch_fallback: Annotated[
        Literal["refuse", "on-demand"],
        Field(
            description="inference batch with fewer "
            "items than a batch job's minimum: refuse the request (default), or run it "
            "on-demand."
        ),
    ] = "refuse"

    @model_validator(mode="after")
    def _article_or_dataset(self) -> EvaluationRequest:
        if (self.article is None) == (self.dataset is None):
            raise ValueError("give exactly one of article (one input) or dataset (many inputs)")
        return self

    @model_validator(mode="after")
    def _one_way_to_name_judges(self) -> EvaluationRequest:
        if self.judges and self.judge_model_id:
            raise ValueError("give either judgeModelId or judges (a panel), not both")
        return self

    @model_validator(mode="after")
    def _arena_needs_two(self) -> EvaluationRequest:
        if self.mode == "arena" and len(self.models) < 2:
            raise ValueError("mode 'arena' rates models against each other: give at least 2 models")
        return self

    @model_validator(mode="after")
    def _pass_score_with_repeats(self) -> EvaluationRequest:
        if self.pass_score is not None and self.repeats < 2:
            raise ValueError("passScore measures how often every repeat passes: set repeats to 2 or more with it")
        return self

    @model_validator(mode="after")
    def _repeats_on_demand(self) -> EvaluationRequest:
        if self.repeats > 1 and self.inference == "batch":
            raise ValueError(
                "repeats above 1 need inference 'on-demand': a batch job answers each record once; "
                "drop repeats or use on-demand inference"
            )
        return self

    @model_validator(mode="after")
    def _reference_with_its_article(self) -> EvaluationRequest:
        if self.reference is not None and self.dataset is not None:
            raise ValueError('reference goes with one article; for a dataset give each line its own "reference"')
        return self

    @model_serializer(mode="wrap")
    def _omit_later_defaults(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        # Fields added after runs were first stored are left out at the value that asks for what those runs
        # did: a request without repeats is dumped (request.json, report.json, its trend key) as it always was.
        data = handler(self)
        if isinstance(data, dict):
            for name, default in LATER_DEFAULTS.items():
                key = to_camel(name) if info.by_alias else name
                if key in data and data[key] == default:
                    del data[key]
        return data

    @property
    def criteria(self) -> dict[str, Criterion]:
        return self.scoring_criteria

    @property
    def compares_pairs(self) -> bool:
        """Pairwise and arena modes both judge every ordered pair of answers."""
        return self.mode in ("pairwise", "arena")

    @property
    def probes(self) -> list[ProbeKind]:
        """The probe kinds to run: as asked, else the default."""
        return list(self.judge_probes if self.judge_probes is not None else DEFAULT_PROBES)


class ResolvedCriterion(Contract):
    name: str
    weight: int
    description: str


API_KEY_ID = r"^[A-Za-z0-9_\-]{1,128}$"


class Owner(Contract):
    """``evaluations/<id>/owner.json``: the API key that created the evaluation.

    Written by the API function (from API Gateway's ``requestContext.identity.apiKeyId``) before it
    starts the execution; read by the API to answer only that key, and by Validate to scope the
    evaluation's checkpoints to that key. An evaluation started any other way has no owner.
    """

    api_key_id: Annotated[
        str, Field(pattern=API_KEY_ID, description="API Gateway's ID of the key (not the key itself).")
    ]
    created_at: str


class Evaluation(Contract):
    """A validated request, stored once in S3; every later state reads it from there."""

    evaluation_id: str
    api_key_id: Annotated[
        str | None,
        Field(
            pattern=API_KEY_ID,
            description="The owning API key's ID (see ``Owner``); None when started without the API.",
        ),
    ] = None
    created_at: str
    request: EvaluationRequest
    judge_model_id: Annotated[str, Field(description="The primary judge (the first of a panel).")]
    judge_model_ids: list[str]
    criteria: list[ResolvedCriterion]
    estimate: CostEstimate
    warnings: list[str] = []
    items: Annotated[int | None, Field(description="Dataset mode: how many items.")] = None
    item_id: Annotated[str | None, Field(description="Dataset mode: this item's ID (per-item documents).")] = None
    reference: Annotated[str | None, Field(description="Dataset mode: this item's reference answer.")] = None
    deadline_at: Annotated[
        str | None, Field(description="ISO time after which no candidate is called (see deadlineSeconds).")
    ] = None
    inference: Annotated[
        Literal["batch"] | None,
        Field(
            description="batch: the candidates answer through Bedrock "
            "batch inference jobs (``bakeoff.batch``); None: on-demand (also when a batch request fell "
            "back to on-demand)."
        ),
    ] = None

    @property
    def reference_answer(self) -> str | None:
        """What the judge grades against beside the article: the item's reference, else the request's."""
        return self.reference if self.reference is not None else self.request.reference

    @property
    def judging_deadline_at(self) -> str | None:
        """The judge may score what arrived for as long again as the candidates had: a run with a deadline
        ends within twice it, with its report."""
        if not self.deadline_at:
            return None
        try:
            start, end = datetime.fromisoformat(self.created_at), datetime.fromisoformat(self.deadline_at)
        except ValueError:
            return None
        return (end + (end - start)).isoformat(timespec="seconds")


# --- cost ------------------------------------------------------------------------------------


class Usage(Contract):
    """Tokens of one or more calls, as Converse reports them: with prompt caching, ``inputTokens`` counts
    only the input read neither from nor into the cache; ``cacheRead/WriteInputTokens`` are the rest
    (absent from the JSON when there are none)."""

    input_tokens: Annotated[int, Field(ge=0)] = 0
    output_tokens: Annotated[int, Field(ge=0)] = 0
    cache_read_input_tokens: Annotated[int | None, Field(ge=0)] = None
    cache_write_input_tokens: Annotated[int | None, Field(ge=0)] = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read + self.cache_write

    @property
    def cache_read(self) -> int:
        return self.cache_read_input_tokens or 0

    @property
    def cache_write(self) -> int:
        return self.cache_write_input_tokens or 0

    def __add__(self, other: Usage) -> Usage:
        read, write = self.cache_read + other.cache_read, self.cache_write + other.cache_write
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_input_tokens=read or None,
            cache_write_input_tokens=write or None,
        )


class ModelEstimate(Contract):
    model_id: str
    role: Literal["candidate", "judge"]
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: Annotated[
        float | None, Field(description="None: the model has no price (allowUnpriced); its cost is unknown, never $0.")
    ] = None


class CostEstimate(Contract):
    lines: list[ModelEstimate]
    total_usd: Annotated[float, Field(description="The priced lines' sum; see ``unpriced``.")]
    unpriced: Annotated[
        list[str], Field(description="Models with no price: their cost is unknown and not in ``total_usd``.")
    ] = []


# --- the Validate state ----------------------------------------------------------------------


class ValidateInput(Contract):
    """Built by the ASL: the execution input as ``request``, the execution's name and start time."""

    request: Any
    evaluation_id: str
    started_at: str


class Candidate(Contract):
    """One call the per-model Map makes: a model and which of its repeats (1..repeats)."""

    model_id: str
    repeat: int = 1


class ValidateOutput(Contract):
    """The state after Validate; the Map iterates ``candidates`` (every model once per repeat)."""

    evaluation_id: str
    models: list[str]
    candidates: list[Candidate]
    judge_model_id: str
    map_max_concurrency: int
    warnings: list[str] = []
    estimated_cost_usd: float
    mode: Literal["single", "dataset"] = "single"
    items_key: str | None = None
    items: int | None = None
    dataset_max_concurrency: int | None = None
    tolerated_failure_percentage: int | None = None
    inference: Literal["on-demand", "batch"] = "on-demand"

    @classmethod
    def of(cls, evaluation: Evaluation, settings: Any) -> ValidateOutput:
        dataset = evaluation.request.dataset is not None
        return cls(
            evaluation_id=evaluation.evaluation_id,
            models=evaluation.request.models,
            # Repeat-major (every model's first answer, then every second...), so the Map spreads a model's
            # repeats over time instead of sending them to one model at once.
            candidates=[
                Candidate(model_id=m, repeat=r)
                for r in range(1, evaluation.request.repeats + 1)
                for m in evaluation.request.models
            ],
            judge_model_id=evaluation.judge_model_id,
            warnings=evaluation.warnings,
            estimated_cost_usd=evaluation.estimate.total_usd,
            map_max_concurrency=settings.MAP_MAX_CONCURRENCY,
            mode="dataset" if dataset else "single",
            items_key=f"evaluations/{evaluation.evaluation_id}/items.json" if dataset else None,
            items=evaluation.items,
            # Items at once: the deployment's ceiling, bounded by the models' tokens-per-minute quota.
            dataset_max_concurrency=quota_concurrency(
                evaluation.estimate,
                evaluation.items or 1,
                tokens_per_minute=settings.MODEL_TOKENS_PER_MINUTE,
                ceiling=settings.DATASET_MAX_CONCURRENCY,
            )
            if dataset
            else None,
            tolerated_failure_percentage=settings.TOLERATED_FAILURE_PERCENTAGE if dataset else None,
            inference=evaluation.inference or "on-demand",
        )


# --- the Map: one item per model, one result per branch --------------------------------------


class ModelTask(Contract):
    """One Map item (built by the ASL's ItemSelector)."""

    evaluation_id: str
    model_id: str
    repeat: Annotated[int, Field(ge=1, le=MAX_REPEATS, description="Which of the model's repeats (1: the first).")] = 1


def _first_repeat_unmarked(value: int | None) -> int | None:
    """Repeat 1 is the answer a run without repeats makes: it carries no mark, so its documents stay as they were."""
    return None if value == 1 else value


class ErrorInfo(Contract):
    error: str
    cause: str = ""


class Answer(Contract):
    """A candidate's answer as checkpointed in S3."""

    model_id: str
    text: str
    stop_reason: str
    usage: Usage
    latency_ms: int
    inference: Annotated[
        Literal["batch"] | None,
        Field(
            description="batch: made by a Bedrock batch inference job "
            "and billed at batch rates; None: an on-demand Converse call."
        ),
    ] = None


class ModelResult(Contract):
    """What one Map branch returns. ``failed`` comes from the ASL's Catch, not from Python."""

    model_id: str
    status: Literal["ok", "failed"]
    answer_key: str | None = None
    usage: Usage | None = None
    latency_ms: int | None = None
    stop_reason: str | None = None
    cached: bool = False
    error: ErrorInfo | None = None
    inference: Annotated[
        Literal["batch"] | None, Field(description="batch: the answer came from a batch job (priced at batch rates).")
    ] = None
    repeat: Annotated[
        int | None,
        Field(description="repeats > 1: which repeat (2..repeats); absent for the first (or only) answer."),
        AfterValidator(_first_repeat_unmarked),
    ] = None


# --- scoring ---------------------------------------------------------------------------------


class CriterionScore(Contract):
    score: Annotated[int, Field(ge=1, le=10)]
    reason: str = ""


class Verdict(Contract):
    """The judge's verdict on one answer. ``unscored`` keeps why and the raw reply; never 0."""

    model_id: str
    judge_model_id: str
    status: Literal["scored", "unscored"]
    scores: dict[str, CriterionScore] = {}
    evidence: list[str] = []
    weighted_score: float | None = None
    reason: str | None = None
    raw_reply: str | None = None
    usage: Usage = Usage()
    attempts: int = 1
    cached: bool = False


class ScoreInput(Contract):
    evaluation_id: str
    results: list[ModelResult]


class ScoreOutput(Contract):
    evaluation_id: str
    scores_key: str
    scored: int
    unscored: int


class JudgeFailure(Contract):
    """What the ASL's RecordJudgeFailure state hands the report when the score step failed for good
    (the Catch's Error and Cause): the report is still written, every answer marked not judged."""

    status: Literal["failed"]
    error: str
    cause: str = ""


class ReportInput(Contract):
    evaluation_id: str
    results: list[ModelResult] = []
    scoring: ScoreOutput | JudgeFailure | None = None
    mode: Literal["single", "dataset"] = "single"

    @model_validator(mode="after")
    def _single_needs_scoring(self) -> ReportInput:
        # A dataset report reads each item's scores.json; a single article's comes from the score step.
        if self.mode == "single" and self.scoring is None:
            raise ValueError("a single-article report needs scoring (the score step's output or its failure)")
        return self


class ReportOutput(Contract):
    evaluation_id: str
    report_key: str
    html_key: str
    ranking: list[dict[str, Any]]
    total_cost_usd: float


Evaluation.model_rebuild()
