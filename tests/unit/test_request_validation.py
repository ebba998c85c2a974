"""The request contract and the Validate state's checks: every problem reported, field by field."""

from __future__ import annotations

import copy

import pytest

from bakeoff.errors import BudgetExceededError, RequestValidationError
from bakeoff.settings import Settings
from bakeoff.validation import validate_request
from tests.conftest import load_event

SETTINGS = Settings(BUCKET_NAME="bucket", JUDGE_MODEL_ID="amazon.nova-pro-v1:0", MAX_COST_PER_EVALUATION_USD=2.0)


def request(**changes):
    base = copy.deepcopy(load_event("statemachine/podcast-bedrock.json"))
    base.update(changes)
    return base


def validate(raw, settings=SETTINGS):
    return validate_request(raw, evaluation_id="ev-1", created_at="2026-12-01T00:00:00+00:00", settings=settings)


def problems(raw, settings=SETTINGS) -> dict[str, str]:
    with pytest.raises(RequestValidationError) as caught:
        validate(raw, settings)
    return {e["field"]: e["message"] for e in caught.value.details["errors"]}


def test_the_sample_request_is_valid_and_resolved():
    evaluation = validate(request())
    assert evaluation.judge_model_id == "amazon.nova-pro-v1:0"
    assert [c.name for c in evaluation.criteria] == ["accuracy", "engagement", "structure"]
    assert [c.weight for c in evaluation.criteria] == [5, 3, 2]
    assert all(c.description for c in evaluation.criteria)  # built-in descriptions filled in
    assert evaluation.estimate.total_usd > 0


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"article": "x" * 99}, "article", "at least 100"),
        ({"article": "x" * 50_001}, "article", "at most 50000"),
        ({"models": []}, "models", "at least 1"),
        ({"models": [f"amazon.nova-{i}" for i in range(6)]}, "models", "at most 5"),
        ({"models": ["amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0"]}, "models", "unique"),
        ({"prompt": "short"}, "prompt", "at least 10"),
        ({"scoringCriteria": {"accuracy": 0}}, "scoringCriteria.accuracy.weight", "greater than or equal to 1"),
        ({"scoringCriteria": {"accuracy": 11}}, "scoringCriteria.accuracy.weight", "less than or equal to 10"),
        ({"scoringCriteria": {}}, "scoringCriteria", "at least 1"),
        ({"temprature": 0.2}, "temprature", "unknown field"),
        ({"maxTokens": "many"}, "maxTokens", "valid integer"),
        ({"temperature": 1.5}, "temperature", "less than or equal to 1"),
    ],
)
def test_schema_problems_name_the_field(changes, field, fragment):
    found = problems(request(**changes))
    assert field in found, found
    assert fragment in found[field]


def test_all_problems_are_reported_at_once():
    found = problems(request(article="short", models=[], scoringCriteria={"accuracy": 99}))
    assert {"article", "models", "scoringCriteria.accuracy.weight"} <= set(found)


def test_a_non_object_body_is_refused():
    assert problems(["not", "an", "object"]) == {"(body)": "expected a JSON object"}


def test_the_judge_must_not_be_a_candidate():
    found = problems(request(judgeModelId="meta.llama3-70b-instruct-v1:0"))
    assert "must not grade itself" in found["judgeModelId"]


def test_an_inference_profile_of_a_candidate_is_the_same_judge():
    found = problems(request(judgeModelId="us.anthropic.claude-3-haiku-20240307-v1:0"))
    assert "must not grade itself" in found["judgeModelId"]


def test_a_judge_of_a_candidates_family_warns_and_strict_judge_refuses():
    same_family = "anthropic.claude-3-5-haiku-20241022-v1:0"
    evaluation = validate(request(judgeModelId=same_family))
    assert any("same family (anthropic.claude)" in w for w in evaluation.warnings)
    found = problems(request(judgeModelId=same_family, strictJudge=True))
    assert "strictJudge" in found["judgeModelId"]


def test_unknown_and_unallowed_models_are_refused():
    found = problems(request(models=["openai.gpt-9-v1:0", "amazon.nova-lite-v1:0"]))
    assert "no price in the catalog" in found["models[0]"]
    restricted = Settings(
        BUCKET_NAME="bucket",
        JUDGE_MODEL_ID="amazon.nova-pro-v1:0",
        ALLOWED_MODEL_IDS=("amazon.nova-pro-v1:0", "amazon.nova-lite-v1:0"),
    )
    found = problems(request(), restricted)
    assert "not allowed here" in found["models[0]"]


def test_a_custom_criterion_needs_a_description():
    found = problems(request(scoringCriteria={"humour": 3}))
    assert "needs a description" in found["scoringCriteria.humour"]
    evaluation = validate(request(scoringCriteria={"humour": {"weight": 3, "description": "Is it funny, kindly?"}}))
    assert evaluation.criteria[0].description == "Is it funny, kindly?"


def test_limits_of_each_model_are_checked():
    found = problems(request(maxTokens=5000))  # Claude 3 Haiku and Llama 3 70B write at most 4096/2048
    assert "output limit" in found["maxTokens"]
    long_article = "word " * 9000  # ~45,000 chars: over Llama 3 70B's 8,192-token window
    found = problems(request(article=long_article))
    assert "context window" in found["models[1]"]


def test_a_request_over_its_budget_is_refused_with_the_estimate():
    with pytest.raises(BudgetExceededError) as caught:
        validate(request(budgetUsd=0.001))
    assert caught.value.details["estimate"]["totalUsd"] > 0.001
    assert caught.value.details["errors"][0]["field"] == "budgetUsd"


def test_a_request_over_the_deployment_limit_is_refused():
    tight = Settings(BUCKET_NAME="bucket", JUDGE_MODEL_ID="amazon.nova-pro-v1:0", MAX_COST_PER_EVALUATION_USD=0.002)
    with pytest.raises(BudgetExceededError, match="MaxCostPerEvaluationUsd"):
        validate(request(), tight)
