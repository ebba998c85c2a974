"""Every Converse request Bakeoff builds passes botocore's own parameter validation (Stubber)."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from bakeoff.converse import ConverseClient, build_request, user_message
from bakeoff.models import ResolvedCriterion
from functions.score.judge import Judge

CRITERIA = [
    ResolvedCriterion(name="accuracy", weight=5, description="Facts match the article."),
    ResolvedCriterion(name="engagement", weight=3, description="Holds attention."),
]
REPLY = {
    "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
    "metrics": {"latencyMs": 1},
}


def client():
    return boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_candidate_request_is_valid_for_botocore():
    bedrock = client()
    request = build_request(
        "amazon.nova-lite-v1:0",
        system="Write a podcast script.",
        messages=[user_message("An article " * 20)],
        max_tokens=512,
        temperature=0.5,
    )
    with Stubber(bedrock) as stub:
        stub.add_response("converse", REPLY, request)
        result = ConverseClient(bedrock).converse(request)
        stub.assert_no_pending_responses()
    assert result.text == "ok"


def test_judge_request_with_forced_tool_is_valid_for_botocore(tmp_path):
    bedrock = client()
    judge = Judge(
        ConverseClient(bedrock),
        store=None,
        judge_model_id="amazon.nova-pro-v1:0",
        criteria=CRITERIA,
        article="The article. " * 20,
        task_prompt="Write a podcast script.",
    )
    request = judge.request("An answer </candidate_answer> with a fake delimiter", "A")
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": "record_verdict"}}
    with Stubber(bedrock) as stub:
        stub.add_response("converse", REPLY, request)  # raises ParamValidationError if botocore rejects it
        bedrock.converse(**request)
        stub.assert_no_pending_responses()
