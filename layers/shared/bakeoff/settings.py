"""Function configuration, read from the environment once at cold start and validated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Settings(BaseModel):
    """Every variable ``template.yaml`` may give a function. Each function uses a subset."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    BUCKET_NAME: Annotated[str, Field(min_length=3)]
    JUDGE_MODEL_ID: str = "anthropic.claude-3-5-haiku-20241022-v1:0"
    ALLOWED_MODEL_IDS: Annotated[tuple[str, ...], Field(description="Comma-separated in the env.")] = ()
    MAX_COST_PER_EVALUATION_USD: Annotated[float, Field(gt=0)] = 2.0
    MODEL_CONNECT_TIMEOUT_SECONDS: Annotated[float, Field(gt=0)] = 5.0
    MODEL_READ_TIMEOUT_SECONDS: Annotated[float, Field(gt=0)] = 120.0
    MAP_MAX_CONCURRENCY: Annotated[int, Field(ge=0, le=40)] = 5
    DATASET_MAX_CONCURRENCY: Annotated[int, Field(ge=1, le=1000)] = 20
    MODEL_TOKENS_PER_MINUTE: Annotated[
        int,
        Field(
            ge=0,
            description="Bedrock's on-demand tokens-per-minute quota per model; 0: none given (see bakeoff.quota).",
        ),
    ] = 0
    TOLERATED_FAILURE_PERCENTAGE: Annotated[int, Field(ge=0, le=100)] = 10
    MAX_DATASET_ITEMS: Annotated[int, Field(ge=1, le=10_000)] = 10_000
    JUDGE_CONCURRENCY: Annotated[int, Field(ge=1, le=16)] = 4
    JUDGE_PROMPT_CACHING: Annotated[bool, Field(description="Send cachePoints to judges that cache prompts.")] = True
    REPORT_PREFIX: str = "reports/"
    EVALUATION_DEADLINE_SECONDS: Annotated[int, Field(ge=10, le=86_400)] = 900
    # Batch inference (inference: "batch"): the service role Bedrock assumes to read the records and write
    # the results, how often the state machine looks at a running job, and when Bedrock gives up on one.
    BATCH_ROLE_ARN: str = ""
    BATCH_POLL_SECONDS: Annotated[int, Field(ge=1, le=3600)] = 60
    BATCH_TIMEOUT_HOURS: Annotated[int, Field(ge=24, le=168)] = 24

    @field_validator("ALLOWED_MODEL_IDS", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls.model_validate({k: v for k, v in env.items() if k in cls.model_fields})
