"""The model catalog: prices, limits and families of every model ID Bakeoff knows.

One data file (``data/models.json``) serves validation (is this ID known? does the request fit
its context window?), the preflight estimate and the actual cost of every call.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model_id: Annotated[str, Field(alias="modelId")]
    name: str
    family: Annotated[str, Field(description="provider.family, e.g. anthropic.claude")]
    input_per_1k_usd: Annotated[float, Field(alias="inputPer1kUsd", ge=0)]
    output_per_1k_usd: Annotated[float, Field(alias="outputPer1kUsd", ge=0)]
    context_window: Annotated[int, Field(alias="contextWindow", gt=0)]
    max_output_tokens: Annotated[int, Field(alias="maxOutputTokens", gt=0)]
    tool_use: Annotated[bool | None, Field(alias="toolUse")] = None
    # Batch inference and prompt caching (issue 19). Unset batch prices fall back to AWS's published rule
    # (batch is billed at 50% of on-demand); unset cache prices mean the model has no prompt caching.
    batch_input_per_1k_usd: Annotated[float | None, Field(alias="batchInputPer1kUsd", ge=0)] = None
    batch_output_per_1k_usd: Annotated[float | None, Field(alias="batchOutputPer1kUsd", ge=0)] = None
    cache_read_per_1k_usd: Annotated[float | None, Field(alias="cacheReadPer1kUsd", ge=0)] = None
    cache_write_per_1k_usd: Annotated[float | None, Field(alias="cacheWritePer1kUsd", ge=0)] = None
    prompt_caching: Annotated[bool | None, Field(alias="promptCaching")] = None
    cache_min_tokens: Annotated[
        int | None,
        Field(
            alias="cacheMinTokens",
            gt=0,
            description=(
                "The fewest prompt tokens before a cachePoint that the model caches; a shorter prefix is not cached"
            ),
        ),
    ] = None
    batch_inference: Annotated[bool | None, Field(alias="batchInference")] = None
    local: bool = False
    region: str | None = None
    source: str | None = None
    as_of: Annotated[str | None, Field(alias="asOf")] = None

    @property
    def provider(self) -> str:
        return self.family.split(".", 1)[0]

    def cost_usd(
        self, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0, cache_write_tokens: int = 0
    ) -> float:
        """Cost of one call. Decimal arithmetic so sums match hand arithmetic to the cent.

        Cache reads and writes at the catalog's cache prices; where the catalog has none, at the input
        price, so that no saving is claimed that the price list does not show."""
        price_in = Decimal(str(self.input_per_1k_usd))
        read = Decimal(str(self.cache_read_per_1k_usd)) if self.cache_read_per_1k_usd is not None else price_in
        write = Decimal(str(self.cache_write_per_1k_usd)) if self.cache_write_per_1k_usd is not None else price_in
        cost = (
            price_in * input_tokens
            + Decimal(str(self.output_per_1k_usd)) * output_tokens
            + read * cache_read_tokens
            + write * cache_write_tokens
        ) / 1000
        return float(round(cost, 8))

    def batch_cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        """Cost of one record of a Bedrock batch inference job: the catalog's batch prices, else half the
        on-demand prices (AWS bills batch inference at 50% of on-demand)."""
        half = Decimal("0.5")
        price_in = (
            Decimal(str(self.batch_input_per_1k_usd))
            if self.batch_input_per_1k_usd is not None
            else Decimal(str(self.input_per_1k_usd)) * half
        )
        price_out = (
            Decimal(str(self.batch_output_per_1k_usd))
            if self.batch_output_per_1k_usd is not None
            else Decimal(str(self.output_per_1k_usd)) * half
        )
        return float(round((price_in * input_tokens + price_out * output_tokens) / 1000, 8))


class FamilyInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    charsPerToken: float = Field(gt=0)
    toolUse: bool = True


class OrchestrationPrices(BaseModel):
    """What the AWS services around the models cost (us-east-1 list prices), for ``estimate.quote``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    standard_per_1k_transitions_usd: Annotated[float, Field(alias="standardPer1kTransitionsUsd", ge=0)]
    express_per_million_requests_usd: Annotated[float, Field(alias="expressPerMillionRequestsUsd", ge=0)]
    express_per_gb_second_usd: Annotated[float, Field(alias="expressPerGbSecondUsd", ge=0)]
    lambda_per_million_requests_usd: Annotated[float, Field(alias="lambdaPerMillionRequestsUsd", ge=0)]
    lambda_per_gb_second_usd: Annotated[float, Field(alias="lambdaPerGbSecondUsd", ge=0)]
    distributed_map_max_parallel: Annotated[int, Field(alias="distributedMapMaxParallel", gt=0)]
    batch_discount: Annotated[
        float,
        Field(
            alias="batchDiscount",
            ge=0,
            le=1,
            description=("Share of the on-demand token price that batch inference saves"),
        ),
    ]
    source: str
    as_of: Annotated[str, Field(alias="asOf")]


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schemaVersion: int
    about: str = ""
    inferenceProfilePrefixes: list[str]
    families: dict[str, FamilyInfo]
    models: list[ModelInfo]
    orchestration: OrchestrationPrices | None = None

    def base_model_id(self, model_id: str) -> str:
        """``us.anthropic.claude-...`` → ``anthropic.claude-...`` (inference profiles bill as their base model)."""
        for prefix in self.inferenceProfilePrefixes:
            if model_id.startswith(prefix) and model_id[len(prefix) :] in self._by_id:
                return model_id[len(prefix) :]
        return model_id

    def unprefixed(self, model_id: str) -> str:
        """The model ID without an inference-profile prefix, known or not: two IDs with the same
        ``unprefixed`` are one model (``us.amazon.nova-lite-v1:0`` is ``amazon.nova-lite-v1:0``)."""
        for prefix in self.inferenceProfilePrefixes:
            if model_id.startswith(prefix):
                return model_id[len(prefix) :]
        return model_id

    _index: dict[str, ModelInfo] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object, /) -> None:
        # Built once: a 10,000-item dataset looks models up ~30 times an item (its estimate, its quote).
        self._index = {m.model_id: m for m in self.models}

    @property
    def _by_id(self) -> dict[str, ModelInfo]:
        return self._index

    def get(self, model_id: str) -> ModelInfo | None:
        return self._by_id.get(self.base_model_id(model_id))

    def family(self, model_id: str) -> str:
        """provider.family of a model ID, known or not (``anthropic.claude-x`` → ``anthropic.claude``)."""
        info = self.get(model_id)
        if info:
            return info.family
        base = self.base_model_id(model_id)
        provider, _, rest = base.partition(".")
        stem = rest.split("-", 1)[0].rstrip("0123456789.")
        return f"{provider}.{stem}"

    def chars_per_token(self, model_id: str) -> float:
        fam = self.families.get(self.family(model_id))
        return fam.charsPerToken if fam else 3.5

    def supports_tool_use(self, model_id: str) -> bool:
        info = self.get(model_id)
        if info and info.tool_use is not None:
            return info.tool_use
        fam = self.families.get(self.family(model_id))
        return fam.toolUse if fam else False

    def caches_prompts(self, model_id: str) -> bool:
        """The model takes Converse ``cachePoint`` blocks and bills cached tokens apart (catalog flag)."""
        info = self.get(model_id)
        return bool(info and info.prompt_caching)

    def bedrock_ids(self) -> list[str]:
        return [m.model_id for m in self.models if not m.local]

    def local_ids(self) -> list[str]:
        return [m.model_id for m in self.models if m.local]


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    text = resources.files("bakeoff").joinpath("data/models.json").read_text(encoding="utf-8")
    return Catalog.model_validate(json.loads(text))


def estimate_tokens(text: str, model_id: str) -> int:
    """Tokenizer-free estimate of how many tokens ``text`` costs on ``model_id``.

    A per-family chars-per-token ratio, rounded up: deliberately a little high, because the
    estimate guards a budget. ``bench/estimate_tokens.py`` measures it against real counts.
    """
    if not text:
        return 0
    return int(len(text) / load_catalog().chars_per_token(model_id)) + 1
