"""Each handler in-process under moto: the bucket is created from template.yaml, the functions get
the environment the template gives them, and models answer through real boto3 over HTTP."""

from __future__ import annotations

import json

import pytest

from bakeoff.models import ModelTask, ReportInput, ScoreInput, ValidateInput
from bakeoff_offline.bucket import load_objects
from tests.conftest import EVENTS, ROOT, load_event, offline

INPUT_MODELS = {"validate": ValidateInput, "invoke_model": ModelTask, "score": ScoreInput, "report": ReportInput}


# events/statemachine/ holds execution inputs (requests), run by the state machine tests.
FUNCTION_EVENTS = sorted(p for p in EVENTS.glob("*/*.json") if p.parent.name in INPUT_MODELS)


@pytest.mark.parametrize("path", FUNCTION_EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_event_fits_its_function(path):
    INPUT_MODELS[path.parent.name].model_validate(json.loads(path.read_text()))


def invoke(stack, function, event):
    return stack.lambda_server.invoke(stack.lambda_server.functions[function], event)


def test_the_bucket_has_the_templates_protections():
    with offline() as (stack, _):
        s3, bucket = stack.s3, stack.stack.bucket_name
        assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
        assert rules["ExpireCheckpoints"]["Filter"]["Prefix"] == "checkpoints/"
        encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_validate_stores_the_request_and_lists_the_models():
    event = load_event("validate/valid.json")
    with offline() as (stack, server):
        body, error = invoke(stack, "ValidateFunction", event)
        stored = json.loads(stack.get_object(f"evaluations/{event['evaluationId']}/request.json"))
    assert error is None
    assert body["models"] == event["request"]["models"]
    assert body["mapMaxConcurrency"] == 5  # the template's MapMaxConcurrency default
    assert stored["request"]["article"] == event["request"]["article"]
    assert sum(server.calls.values()) == 0


@pytest.mark.parametrize(
    ("scenario", "error_type", "field"),
    [
        ("invalid-request", "RequestValidationError", "article"),
        ("judge-is-candidate", "RequestValidationError", "judgeModelId"),
        ("unknown-model", "RequestValidationError", "models[2]"),
        ("over-budget", "BudgetExceededError", "budgetUsd"),
    ],
)
def test_validate_refuses_bad_requests_with_field_errors(scenario, error_type, field):
    with offline() as (stack, server):
        body, error = invoke(stack, "ValidateFunction", load_event(f"validate/{scenario}.json"))
    assert error == "Unhandled" and body["errorType"] == error_type
    assert field in {e["field"] for e in json.loads(body["errorMessage"])["errors"]}
    assert sum(server.calls.values()) == 0


def test_invoke_model_answers_once_and_then_from_its_checkpoint():
    event = load_event("invoke_model/valid.json")
    with offline() as (stack, server):
        load_objects(stack.stack.bucket_name, ROOT / "events" / "bucket")
        # the seeded checkpoint answers first; with it gone, the model is called
        first, _ = invoke(stack, "InvokeModelFunction", event)
        stack.s3.delete_object(Bucket=stack.stack.bucket_name, Key=first["answerKey"])
        fresh, _ = invoke(stack, "InvokeModelFunction", event)
        again, _ = invoke(stack, "InvokeModelFunction", event)
    assert first["cached"] is True
    assert fresh["cached"] is False and fresh["usage"] == {"inputTokens": 1200, "outputTokens": 300}
    assert again["cached"] is True and again["answerKey"] == fresh["answerKey"]
    assert server.calls[event["modelId"]] == 1


def test_score_and_report_from_the_sample_events():
    with offline() as (stack, _server):
        load_objects(stack.stack.bucket_name, ROOT / "events" / "bucket")
        scored, error = invoke(stack, "ScoreFunction", load_event("score/one-model-failed.json"))
        assert error is None, scored
        report_event = load_event("report/one-model-failed.json")
        out, error = invoke(stack, "ReportFunction", report_event)
        assert error is None, out
        report = json.loads(stack.get_object(out["reportKey"]))
        html = stack.get_object(out["htmlKey"]).decode()
    assert scored["scored"] == 2
    failed = [m for m in report["models"] if m["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"]["error"] == "InvalidModelRequestError"
    assert len(out["ranking"]) == 2
    assert failed[0]["modelId"] in html
