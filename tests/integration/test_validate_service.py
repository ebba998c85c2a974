"""The Validate step's service against moto's S3: it reads the dataset and the owner, checks the request,
and stores what every later state reads (``bakeoff.evaluations``): one evaluation per dataset item, the
manifest of items, and the evaluation itself, in that order."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from bakeoff.errors import RequestValidationError
from bakeoff.evaluations import EvaluationStore, load_evaluation
from bakeoff.models import Owner
from bakeoff.settings import Settings
from bakeoff.storage import Store, evaluation_key
from bakeoff_offline.template import read_stack
from functions.validate.service import accept

ROOT = Path(__file__).resolve().parents[2]
STACK = read_stack(ROOT)
SETTINGS = Settings.from_env(STACK.functions["ValidateFunction"].environment)
REQUEST = json.loads((ROOT / "events" / "statemachine" / "podcast-bedrock.json").read_text())
ARTICLE = "The council of Harborview voted 7 to 2 on Tuesday to replace the 94-year-old Pelham Street ferry. " * 2
CREATED = "2026-12-01T10:56:12+00:00"


@pytest.fixture
def store(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3", aws_access_key_id="k", aws_secret_access_key="s")
        s3.create_bucket(Bucket=STACK.bucket_name)
        yield Store(s3, STACK.bucket_name)


def dataset_request(store: Store, lines: list[dict]) -> dict:
    store.put_bytes("datasets/items.jsonl", "\n".join(json.dumps(line) for line in lines).encode(), "text/plain")
    request = {k: v for k, v in REQUEST.items() if k != "article"}
    return {**request, "dataset": {"s3Uri": f"s3://{store.bucket}/datasets/items.jsonl"}}


def test_a_request_is_stored_once_and_read_back_as_the_same_evaluation(store):
    evaluation = accept(
        REQUEST, evaluation_id="e1", created_at=CREATED, settings=SETTINGS, evaluations=EvaluationStore(store)
    )
    assert load_evaluation(store, "e1") == evaluation
    assert store.list_keys("evaluations/") == [evaluation_key("e1", "request.json")]
    assert evaluation.api_key_id is None  # started without the API: nobody's


def test_the_owner_the_api_recorded_scopes_the_evaluation(store):
    store.put_json(evaluation_key("e2", "owner.json"), Owner(api_key_id="abc123def4", created_at=CREATED).dump())
    accept(REQUEST, evaluation_id="e2", created_at=CREATED, settings=SETTINGS, evaluations=EvaluationStore(store))
    assert load_evaluation(store, "e2").api_key_id == "abc123def4"


def test_a_dataset_stores_one_evaluation_per_item_and_the_manifest(store):
    request = dataset_request(
        store, [{"id": "a", "article": ARTICLE}, {"id": "b", "article": ARTICLE, "reference": "A new ferry."}]
    )
    evaluation = accept(
        request, evaluation_id="d1", created_at=CREATED, settings=SETTINGS, evaluations=EvaluationStore(store)
    )
    assert evaluation.items == 2
    assert store.get_json(evaluation_key("d1", "items.json")) == [
        {"evaluationId": "d1~a", "itemId": "a"},
        {"evaluationId": "d1~b", "itemId": "b"},
    ]
    child = load_evaluation(store, "d1~b")
    assert (child.item_id, child.reference, child.items) == ("b", "A new ferry.", None)
    assert child.request.article == ARTICLE and child.request.dataset is None
    assert child.judge_model_ids == evaluation.judge_model_ids and child.estimate == evaluation.estimate


def test_a_missing_dataset_is_a_field_error_and_nothing_is_stored(store):
    request = {**dataset_request(store, []), "dataset": {"s3Uri": f"s3://{store.bucket}/datasets/none.jsonl"}}
    with pytest.raises(RequestValidationError) as refused:
        accept(request, evaluation_id="d2", created_at=CREATED, settings=SETTINGS, evaluations=EvaluationStore(store))
    assert refused.value.details["errors"] == [
        {"field": "dataset.s3Uri", "message": f"no object at s3://{store.bucket}/datasets/none.jsonl"}
    ]
    assert store.list_keys("evaluations/") == []


def test_an_invalid_request_stores_nothing(store):
    with pytest.raises(RequestValidationError):
        accept(
            {**REQUEST, "models": []},
            evaluation_id="e3",
            created_at=CREATED,
            settings=SETTINGS,
            evaluations=EvaluationStore(store),
        )
    assert store.list_keys("evaluations/") == []
