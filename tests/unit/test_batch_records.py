"""The batch mode's pieces on their own: the request check, prices at batch rates, the JSONL records both
ways, and the CreateModelInvocationJob call as botocore's own model of the API checks it."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber
from botocore.validate import ParamValidator
from moto import mock_aws

from bakeoff.answers import candidate_request
from bakeoff.batch import BATCH_MIN_RECORDS, at_batch_rates, batch_mode
from bakeoff.batch_records import parse_output, record_for, records_jsonl
from bakeoff.estimate import estimate
from bakeoff.models import Evaluation, EvaluationRequest
from bakeoff.settings import Settings
from bakeoff.storage import Store
from functions.batch_job.jobs import BatchRun, _submit

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
ARTICLE = "The council voted 7 to 2 for an electric ferry that carries up to 180 passengers. " * 3


def request(**fields) -> EvaluationRequest:
    base = {
        "dataset": {"s3Uri": "s3://bucket/items.jsonl"},
        "models": [CLAUDE],
        "prompt": "Summarise it, please.",
        "scoringCriteria": {"accuracy": 5},
        "inference": "batch",
    }
    return EvaluationRequest.model_validate(base | fields)


def evaluation(**fields) -> Evaluation:
    req = request(**fields).model_copy(update={"article": ARTICLE, "dataset": None})
    return Evaluation(
        evaluation_id="e~item-1",
        created_at="2026-01-01T00:00:00+00:00",
        request=req,
        judge_model_id="amazon.nova-pro-v1:0",
        judge_model_ids=["amazon.nova-pro-v1:0"],
        criteria=[],
        estimate={"lines": [], "totalUsd": 0},
        inference="batch",
    )


def test_batch_mode_needs_a_dataset_of_at_least_the_minimum():
    assert batch_mode(request(), BATCH_MIN_RECORDS) == ("batch", [], [])
    assert batch_mode(request(), None)[0] == "batch"  # before the dataset is read: the request alone
    mode, errors, _ = batch_mode(request(), 50)
    assert mode is None and errors[0]["field"] == "inference" and "50 item(s)" in errors[0]["message"]
    mode, errors, warnings = batch_mode(request(batchFallback="on-demand"), 50)
    assert (mode, errors) == (None, []) and "asked on-demand" in warnings[0]
    single = request(dataset=None, article=ARTICLE)
    assert "dataset" in batch_mode(single, None)[1][0]["message"]
    profile = batch_mode(request(models=[f"us.{CLAUDE}"]), 200)[1]
    assert profile[0]["field"] == "models[0]" and CLAUDE in profile[0]["message"]
    assert batch_mode(request(inference="on-demand"), 5) == (None, [], [])


def test_the_estimate_at_batch_rates_halves_the_candidates_only():
    req = request(dataset=None, article=ARTICLE)
    full = estimate(req, ["amazon.nova-pro-v1:0"])
    batched = at_batch_rates(full)
    (cand, judge), (bcand, bjudge) = full.lines, batched.lines
    assert bcand.cost_usd == pytest.approx(cand.cost_usd / 2, abs=1e-8) and bjudge.cost_usd == judge.cost_usd
    assert batched.total_usd == pytest.approx(bcand.cost_usd + bjudge.cost_usd, abs=1e-6)


def test_a_record_is_the_on_demand_converse_request_and_botocore_accepts_it():
    ev = evaluation()
    key, record = record_for(ev, CLAUDE)
    line = json.loads(records_jsonl([record]))
    assert set(line) == {"recordId", "modelInput"} and key.endswith(f"/{line['recordId']}.json")
    assert line["modelInput"] | {"modelId": CLAUDE} == candidate_request(ev, CLAUDE)
    shape = (
        boto3.client("bedrock-runtime", region_name="us-east-1")
        .meta.service_model.operation_model("Converse")
        .input_shape
    )
    report = ParamValidator().validate(line["modelInput"] | {"modelId": CLAUDE}, shape)
    assert not report.has_errors(), report.generate_report()


def test_output_lines_with_answers_errors_and_a_torn_last_line():
    body = (
        json.dumps(
            {
                "recordId": "a",
                "modelInput": {},
                "modelOutput": {
                    "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
                    "stopReason": "end_turn",
                    "usage": {"inputTokens": 3, "outputTokens": 1},
                },
            }
        )
        + "\n"
        + json.dumps({"recordId": "b", "modelInput": {}, "error": {"errorCode": 400, "errorMessage": "bad"}})
        + "\n"
        + '{"recordId": "c", "modelOut'
    ).encode()
    lines, bad = parse_output(body)
    assert [x.record_id for x in lines] == ["a", "b"] and bad == 1
    assert lines[0].model_output["usage"]["outputTokens"] == 1 and lines[1].error.error_message == "bad"


@mock_aws
def test_a_job_is_submitted_as_the_bedrock_api_defines_it_and_recorded_in_its_run():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="bakeoff-test")
    store = Store(s3, "bakeoff-test")
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    records = [record_for(evaluation(), CLAUDE)[1]]
    run_key = "checkpoints/answers/batch/abc/run.json"
    arn = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/x1y2z3"
    with Stubber(bedrock) as stub:  # validates the parameters against botocore's model of the API
        stub.add_response(
            "create_model_invocation_job",
            {"jobArn": arn},
            {
                "jobName": ANY,
                "roleArn": "arn:aws:iam::123456789012:role/BatchInferenceRole",
                "clientRequestToken": ANY,
                "modelId": CLAUDE,
                "modelInvocationType": "Converse",
                "inputDataConfig": {
                    "s3InputDataConfig": {
                        "s3Uri": "s3://bakeoff-test/checkpoints/answers/batch/abc/0/input/records.jsonl",
                        "s3InputFormat": "JSONL",
                    }
                },
                "outputDataConfig": {
                    "s3OutputDataConfig": {"s3Uri": "s3://bakeoff-test/checkpoints/answers/batch/abc/0/output/"}
                },
                "timeoutDurationInHours": 24,
            },
        )
        settings = Settings(
            BUCKET_NAME="bakeoff-test", BATCH_ROLE_ARN="arn:aws:iam::123456789012:role/BatchInferenceRole"
        )
        assert _submit(store, bedrock, settings, run_key, CLAUDE, records) == 0
    run = BatchRun.model_validate(store.require_json(run_key))
    assert run.jobs[0].job_arn == arn and run.jobs[0].record_ids == [records[0].record_id]
    assert run.answers_folder == "checkpoints/answers"
    assert store.get_bytes(run.jobs[0].input_key) == records_jsonl(records)
