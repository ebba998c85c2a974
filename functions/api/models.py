"""The API function's own contracts: its settings, the path it is given, and what it answers.

The request body is ``bakeoff.models.EvaluationRequest`` (validated by ``bakeoff.validation``); these
are the models on the HTTP side of the function only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bakeoff.models import Contract

# What bakeoff.ids.new_evaluation_id makes; the Step Functions execution name is the evaluation ID.
EVALUATION_ID = r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$"
STATE_MACHINE_ARN = r"^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$"


class ApiSettings(BaseModel):
    """The API function's environment, beyond the shared ``bakeoff.settings.Settings``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    BUCKET_NAME: Annotated[str, Field(min_length=3)]
    STATE_MACHINE_ARN: Annotated[str, Field(pattern=STATE_MACHINE_ARN)]
    REPORT_URL_EXPIRY_SECONDS: Annotated[
        int, Field(ge=60, le=3600, description="Lifetime of presigned report URLs.")
    ] = 900
    CORS_ALLOW_ORIGIN: Annotated[str, Field(description="One allowed origin; empty = no CORS headers.")] = ""
    REPORT_PREFIX: str = "reports/"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiSettings:
        return cls.model_validate({k: v for k, v in env.items() if k in cls.model_fields})

    @property
    def state_machine_name(self) -> str:
        return self.STATE_MACHINE_ARN.rsplit(":", 1)[1]

    def execution_arn(self, evaluation_id: str) -> str:
        """The execution is named after the evaluation, so its ARN follows from the state machine's."""
        prefix = self.STATE_MACHINE_ARN.rsplit(":stateMachine:", 1)[0]
        return f"{prefix}:execution:{self.state_machine_name}:{evaluation_id}"


class EvaluationRef(BaseModel):
    """The path parameters of ``GET /evaluations/{evaluationId}``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    evaluation_id: Annotated[
        str, Field(alias="evaluationId", pattern=EVALUATION_ID, description="As returned by POST /evaluations.")
    ]


class Accepted(Contract):
    """``202`` to ``POST /evaluations``: the evaluation has started."""

    evaluation_id: str
    status_url: str
    estimated_cost_usd: float
    warnings: list[str] = []


class RankedModel(Contract):
    rank: int
    model_id: str
    weighted_score: float | None
    scores: dict[str, int] = {}
    cost_usd: float | None = None


class FailedModel(Contract):
    model_id: str
    error: str
    message: str = ""


class Costs(Contract):
    candidate_usd: float | None = None
    judge_usd: float | None = None
    total_usd: float | None = None
    estimated_usd: float | None = None


class Summary(Contract):
    """The outcome of a finished evaluation: enough for a CI gate without downloading the report."""

    winner: str | None
    ranking: list[RankedModel]
    unscored: list[str] = []
    failed: list[FailedModel] = []
    costs: Costs
    complete: Annotated[
        bool,
        Field(
            description="False when report.json could not be read and this "
            "summary comes from the execution output alone."
        ),
    ] = True


class FailureSummary(Contract):
    """Why an execution did not succeed: the error name and the cause's message, never a stack trace."""

    error: str
    cause: str = ""
    errors: list[dict[str, str]] = []


ExecutionStatus = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]


class EvaluationStatus(Contract):
    """``200`` to ``GET /evaluations/{evaluationId}``."""

    evaluation_id: str
    status: ExecutionStatus
    started_at: str
    stopped_at: str | None = None
    summary: Summary | None = None
    report_url: Annotated[str | None, Field(description="Presigned GET of report.html.")] = None
    report_json_url: Annotated[str | None, Field(description="Presigned GET of report.json.")] = None
    results_csv_url: Annotated[str | None, Field(description="Presigned GET of results.csv.")] = None
    results_jsonl_url: Annotated[
        str | None, Field(description="Presigned GET of results.jsonl (a dataset's per-item export).")
    ] = None
    report_url_expires_at: str | None = None
    error: FailureSummary | None = None

    def dump_all(self) -> dict:
        """Like ``dump`` but keeps the nulls: a client reads ``stoppedAt: null`` as "not yet"."""
        return self.model_dump(mode="json", by_alias=True)
