"""Quota-aware concurrency (issue 19): the dataset Map's MaxConcurrency follows from the models' Bedrock
tokens-per-minute quota and the request's maxTokens, computed in Validate and read by the ASL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff.models import CostEstimate, DatasetItem, ModelEstimate, ValidateOutput
from bakeoff.quota import quota_concurrency, reserved_per_item
from bakeoff.settings import Settings
from bakeoff.validation import validate_request

ROOT = Path(__file__).resolve().parents[2]
REQUEST = json.loads((ROOT / "events/statemachine/dataset-bedrock.json").read_text())
ITEMS = [
    DatasetItem.model_validate(json.loads(line))
    for line in (ROOT / "events/datasets/council-votes-12.jsonl").read_text().splitlines()
    if line.strip()
]
ASL = json.loads((ROOT / "statemachine/evaluation.asl.json").read_text())


def estimate(*lines: tuple[str, str, int, int, int]) -> CostEstimate:
    return CostEstimate(
        lines=[ModelEstimate(model_id=m, role=r, calls=c, input_tokens=i, output_tokens=o) for m, r, c, i, o in lines],
        total_usd=0.0,
    )


def test_the_heaviest_model_per_item_sets_the_concurrency():
    # Given 10 items: model A reserves (3,000 + 10,240) / 10 = 1,324 per item; the judge J
    # (4 calls an item) (20,000 + 12,000) / 10 = 3,200 per item
    cost = estimate(("a", "candidate", 10, 3_000, 10_240), ("j", "judge", 40, 20_000, 12_000))
    assert reserved_per_item(cost, 10) == {"a": 1_324, "j": 3_200}
    # Then a 100,000 tokens/min quota fits 100,000 // 3,200 = 31 items at once, under a ceiling of 40
    assert quota_concurrency(cost, 10, tokens_per_minute=100_000, ceiling=40) == 31
    # the ceiling still caps it; no quota given keeps the ceiling; an item over the quota alone still runs
    assert quota_concurrency(cost, 10, tokens_per_minute=100_000, ceiling=20) == 20
    assert quota_concurrency(cost, 10, tokens_per_minute=0, ceiling=20) == 20
    assert quota_concurrency(cost, 10, tokens_per_minute=1_000, ceiling=20) == 1


@pytest.mark.parametrize("max_tokens", [120, 1024])
def test_validate_passes_the_quota_bound_to_the_dataset_map(max_tokens):
    # Given a 12-item dataset request and a 20,000 tokens/min quota
    settings = Settings(
        BUCKET_NAME="bucket",
        ALLOWED_MODEL_IDS=(*REQUEST["models"], REQUEST["judgeModelId"]),
        MODEL_TOKENS_PER_MINUTE=20_000,
        DATASET_MAX_CONCURRENCY=20,
    )
    request = {**REQUEST, "dataset": {"s3Uri": "s3://bucket-name/datasets/x.jsonl"}, "maxTokens": max_tokens}
    evaluation = validate_request(
        request, evaluation_id="ev-quota", created_at="2026-01-01T00:00:00+00:00", settings=settings, items=ITEMS
    )
    # When
    out = ValidateOutput.of(evaluation, settings)
    # Then the concurrency is what the estimate's heaviest model reserves per item allows, written out by hand:
    # every line's input + output over the 12 items, the largest, into 20,000
    per_item = {}
    for line in evaluation.estimate.lines:
        per_item[line.model_id] = per_item.get(line.model_id, 0) + line.input_tokens + line.output_tokens
    heaviest = max(-(-tokens // 12) for tokens in per_item.values())
    assert out.dataset_max_concurrency == max(1, min(20, 20_000 // heaviest))
    assert out.dump()["datasetMaxConcurrency"] == out.dataset_max_concurrency


def test_a_bigger_max_tokens_lowers_the_bound():
    settings = Settings(
        BUCKET_NAME="bucket",
        ALLOWED_MODEL_IDS=(*REQUEST["models"], REQUEST["judgeModelId"]),
        MODEL_TOKENS_PER_MINUTE=50_000,
        DATASET_MAX_CONCURRENCY=40,
    )

    def concurrency(max_tokens: int) -> int:
        request = {**REQUEST, "dataset": {"s3Uri": "s3://bucket-name/datasets/x.jsonl"}, "maxTokens": max_tokens}
        evaluation = validate_request(
            request, evaluation_id="ev", created_at="2026-01-01T00:00:00+00:00", settings=settings, items=ITEMS
        )
        return ValidateOutput.of(evaluation, settings).dataset_max_concurrency

    assert concurrency(2048) < concurrency(512) < concurrency(64) <= 40


def test_the_distributed_map_reads_its_concurrency_from_validate():
    dataset_map = next(
        state for state in ASL["States"].values() if state.get("Type") == "Map" and "ItemReader" in state
    )
    assert dataset_map["MaxConcurrencyPath"] == "$.datasetMaxConcurrency"


def test_the_template_passes_the_quota_to_validate():
    template = (ROOT / "template.yaml").read_text()
    assert "ModelTokensPerMinute:" in template
    assert "MODEL_TOKENS_PER_MINUTE: !Ref ModelTokensPerMinute" in template
