"""The ScoreFunction handler in-process: moto S3, the template's environment, the sample events in
``events/score/``, and judges scripted at the Converse boundary.

What ``scores.json`` promises the report step is checked here: panel agreement, pairwise flip rate,
the control check, tie marks, deterministic metrics, and every judge call counted; and that a
retried step re-calls nothing that succeeded.
"""

from __future__ import annotations

import importlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from bakeoff.errors import ModelThrottledError
from bakeoff.evaluations import EvaluationStore
from bakeoff.models import Verdict
from bakeoff.settings import Settings
from bakeoff.storage import Store, evaluation_key
from bakeoff_offline.template import read_stack
from functions.validate.service import accept
from tests.support.converse_fakes import ScriptedModels, answer, converse_server, preference, shown_answers, verdict

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events" / "score"
STACK = read_stack(ROOT)
REQUEST = json.loads((ROOT / "events" / "statemachine" / "podcast-bedrock.json").read_text())
HAIKU, LLAMA, MISTRAL = REQUEST["models"]
NOVA, COHERE = "amazon.nova-pro-v1:0", "cohere.command-r-v1:0"

ANSWERS = {
    HAIKU: (
        "HOST 1: Harborview's council voted 7 to 2 on Tuesday to replace the Pelham Street ferry.\n"
        "HOST 2: The electric boat carries 180 passengers and 24 cars, and should sail in spring 2029.\n"
        "HOST 1: Mayor Lucinda Ortega called it the biggest decision of her time.\n"
        "HOST 2: Councilman Derek Oyelaran warned about winter storms.\n"
        "HOST 1: Recap: 31.4 million dollars, 12 million from a state grant."
    ),
    LLAMA: (
        "HOST 1: Big news from Harborview: a new electric ferry for 200 passengers!\n"
        "HOST 2: Captain Rogers will skipper it from 2029."
    ),
    MISTRAL: "Harborview will get an electric ferry.",
}
MODEL_OF = {text: model for model, text in ANSWERS.items()}


def scripted_judges(scores, control=None, prefer=None, throttle_once=None) -> ScriptedModels:
    """The judges, scripted: ``scores[judge][model]`` per answer (None: an unusable reply),
    ``control[judge]`` for the corrupted copy, ``prefer(first, second)`` for pairwise;
    ``throttle_once(judge, shown answers)``: throttle that request the first time."""
    control = control or {}
    prefer = prefer or (lambda first, second: "A")

    def judge(model_id: str, request: dict) -> dict:
        shown = shown_answers(request)
        if len(shown) == 2:
            return preference(request, prefer(MODEL_OF[shown[0]], MODEL_OF[shown[1]]))
        model = MODEL_OF.get(shown[0])
        score = scores[model_id][model] if model else control[model_id]
        if score is None:
            return answer("I would rather not say.", input_tokens=1000, output_tokens=6)
        return verdict(
            request,
            score,
            reason=lambda name: f"{name} looks like a {score}",
            evidence=["voted 7 to 2"],
            input_tokens=1000,
            output_tokens=100,
        )

    throttle_first = None
    if throttle_once:

        def throttle_first(model_id: str, request: dict) -> bool:
            return throttle_once(model_id, shown_answers(request))

    return ScriptedModels(by_model=dict.fromkeys(scores, judge), throttle_first=throttle_first)


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=STACK.bucket_name)
        yield Store(s3, STACK.bucket_name)


def seed(store: Store, event: dict, **request_changes) -> None:
    """The state the score step finds: the validated request and every ok model's answer checkpoint."""
    settings = Settings.from_env(STACK.functions["ValidateFunction"].environment)
    request = {k: v for k, v in {**REQUEST, **request_changes}.items() if v is not None}
    # Accepted now: the evaluation's deadline (EvaluationDeadlineSeconds) counts from here.
    accept(
        request,
        evaluation_id=event["evaluationId"],
        created_at=datetime.now(UTC).isoformat(),
        settings=settings,
        evaluations=EvaluationStore(store),
    )
    for result in event["results"]:
        if result["status"] == "ok":
            store.put_checkpoint(
                result["answerKey"],
                {
                    "modelId": result["modelId"],
                    "text": ANSWERS[result["modelId"]],
                    "stopReason": "end_turn",
                    "usage": result["usage"],
                    "latencyMs": result["latencyMs"],
                },
            )


def handler(monkeypatch, server):
    """The handler as its own Lambda container would load it: the template's variables, a cold import."""
    for name, value in STACK.functions["ScoreFunction"].environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    sys.modules.pop("functions.score.app", None)
    return importlib.import_module("functions.score.app").lambda_handler


CONTEXT = SimpleNamespace(
    function_name="ScoreFunction",
    memory_limit_in_mb=512,
    aws_request_id="req-1",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:ScoreFunction",
)


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def run(monkeypatch, store, backend: ScriptedModels, name="three-answers.json", **request_changes):
    ev = event(name)
    seed(store, ev, **request_changes)
    with converse_server(backend) as server:
        out = handler(monkeypatch, server)(ev, CONTEXT)
    return out, store.require_json(out["scoresKey"])


# --- one judge --------------------------------------------------------------------------------


def test_one_judge_writes_the_scores_contract(aws, monkeypatch):
    # Given a judge that scores 9, 6, 3 and the corrupted best answer 2
    judges = scripted_judges({NOVA: {HAIKU: 9, LLAMA: 6, MISTRAL: 3}}, control={NOVA: 2})
    # When
    out, doc = run(monkeypatch, aws, judges)
    # Then
    assert out == {
        "evaluationId": "ev-score-sample-0001",
        "scored": 3,
        "unscored": 0,
        "scoresKey": evaluation_key("ev-score-sample-0001", "scores.json"),
    }
    assert doc["judgeModelId"] == NOVA and doc["judgeModelIds"] == [NOVA]
    assert [v["modelId"] for v in doc["verdicts"]] == [HAIKU, LLAMA, MISTRAL]
    haiku = doc["models"][HAIKU]
    assert haiku["weightedScore"] == 9.0 and haiku["status"] == "scored"
    assert haiku["scores"]["accuracy"] == {"score": 9, "reason": "accuracy looks like a 9"}
    assert haiku["judgeCostUsd"] == pytest.approx((1000 * 0.0008 + 100 * 0.0032) / 1000)
    assert "panel" not in haiku
    assert haiku["metrics"]["unsupportedNumbers"] == []
    assert doc["models"][LLAMA]["metrics"]["unsupportedNumbers"] == ["200"]  # the article says 180
    assert doc["models"][LLAMA]["metrics"]["unsupportedNames"] == ["Captain Rogers"]
    assert doc["models"][MISTRAL]["metrics"]["wordCount"] == 6
    # the report can read every aggregate as a Verdict
    for entry in doc["models"].values():
        Verdict.model_validate(entry)
    health = doc["judgeHealth"]
    assert health["controlPassed"] is True
    assert health["control"]["modelId"] == HAIKU
    assert (health["control"]["originalScore"], health["control"]["controlScore"]) == (9.0, 2.0)
    assert "number(s) changed" in health["control"]["corruption"]
    assert health["panel"] is None and health["pairwise"] is None
    assert health["lengthBias"]["n"] == 3 and health["lengthBias"]["pearson"] > 0.9
    assert (health["noise"], health["noiseSource"]) == (0.5, "default")  # weights 5/3/2
    assert not any(m["tie"] for m in doc["models"].values())
    # 3 answers + 1 control, each one call
    assert doc["judgeCalls"]["count"] == 4
    assert doc["judgeCalls"]["usage"] == {"inputTokens": 4000, "outputTokens": 400}
    assert doc["judgeCalls"]["costUsd"] == pytest.approx(4 * (1000 * 0.0008 + 100 * 0.0032) / 1000)


def test_a_failed_model_is_not_judged(aws, monkeypatch):
    judges = scripted_judges({NOVA: {HAIKU: 7, MISTRAL: 7}}, control={NOVA: 7})
    out, doc = run(monkeypatch, aws, judges, "two-answers-one-failed.json")
    assert set(doc["models"]) == {HAIKU, MISTRAL}
    assert out["scored"] == 2
    # equal scores are a tie whatever the noise; a control scored as high as the original fails
    assert doc["models"][HAIKU]["tiedWith"] == [MISTRAL] and doc["models"][MISTRAL]["tie"] is True
    assert doc["judgeHealth"]["controlPassed"] is False


def test_an_unusable_reply_is_unscored_and_counted(aws, monkeypatch):
    judges = scripted_judges({NOVA: {HAIKU: 8, LLAMA: 6, MISTRAL: None}}, control={NOVA: 3})
    out, doc = run(monkeypatch, aws, judges)
    assert (out["scored"], out["unscored"]) == (2, 1)
    mistral = doc["models"][MISTRAL]
    assert mistral["status"] == "unscored" and "weightedScore" not in mistral
    assert mistral["rawReply"] == "I would rather not say."
    assert mistral["tie"] is False and mistral["tiedWith"] == []
    assert doc["judgeHealth"]["lengthBias"]["n"] == 2 and doc["judgeHealth"]["lengthBias"]["pearson"] is None
    assert doc["judgeCalls"]["count"] == 2 + 2 + 1  # the unusable one was asked twice


# --- panel ------------------------------------------------------------------------------------


def test_a_panel_scores_with_every_judge_and_measures_their_agreement(aws, monkeypatch):
    # Given two judges of different families: 8/6/4 and 7/6/5
    judges = scripted_judges(
        {NOVA: {HAIKU: 8, LLAMA: 6, MISTRAL: 4}, COHERE: {HAIKU: 7, LLAMA: 6, MISTRAL: 5}}, control={NOVA: 3, COHERE: 7}
    )
    _, doc = run(monkeypatch, aws, judges, judgeModelId=None, judges=[NOVA, COHERE])
    # Then each model has both judges' scores and their mean
    assert doc["judgeModelIds"] == [NOVA, COHERE]
    assert len(doc["verdicts"]) == 6
    assert doc["models"][HAIKU]["panel"] == {NOVA: 8.0, COHERE: 7.0}
    assert [doc["models"][m]["weightedScore"] for m in (HAIKU, LLAMA, MISTRAL)] == [7.5, 6.0, 4.5]
    assert doc["models"][HAIKU]["scores"]["accuracy"]["score"] == 8  # 7.5 half up
    assert doc["models"][HAIKU]["usage"] == {"inputTokens": 2000, "outputTokens": 200}
    panel = doc["judgeHealth"]["panel"]
    assert panel["judges"] == [NOVA, COHERE]
    assert panel["meanAbsDiff"] == pytest.approx(0.667)  # |8-7|, |6-6|, |4-5|
    assert panel["spearman"] == 1.0 and panel["kendall"] == 1.0
    assert panel["perCriterionMean"][HAIKU] == {"accuracy": 7.5, "engagement": 7.5, "structure": 7.5}
    # the panel's disagreement is the noise; gaps of 1.5 are above it
    assert (doc["judgeHealth"]["noise"], doc["judgeHealth"]["noiseSource"]) == (0.667, "panel")
    assert not any(m["tie"] for m in doc["models"].values())
    # the control: nova noticed (3 < 8), cohere did not (7 is not below 7): the panel fails
    control = doc["judgeHealth"]["control"]
    assert control["perJudge"][NOVA]["passed"] is True and control["perJudge"][COHERE]["passed"] is False
    assert doc["judgeHealth"]["controlPassed"] is False
    assert doc["judgeCalls"]["count"] == 2 * (3 + 1)


# --- pairwise ---------------------------------------------------------------------------------


def test_a_judge_that_always_prefers_the_first_answer_gives_all_ties(aws, monkeypatch):
    judges = scripted_judges({NOVA: {HAIKU: 9, LLAMA: 6, MISTRAL: 3}}, control={NOVA: 2}, prefer=lambda a, b: "A")
    _, doc = run(monkeypatch, aws, judges, mode="pairwise")
    pairwise = doc["judgeHealth"]["pairwise"]
    assert pairwise["positionFlipRate"] == 1.0
    assert (pairwise["pairs"], pairwise["ties"]) == (3, 3)
    assert pairwise["wins"] == {HAIKU: 0, LLAMA: 0, MISTRAL: 0}
    # the rubric scores are 3 points apart, but the judge cannot tell the answers apart in pairs
    assert all(m["tie"] for m in doc["models"].values())
    assert sorted(doc["models"][HAIKU]["tiedWith"]) == sorted([LLAMA, MISTRAL])
    assert doc["judgeCalls"]["count"] == 3 + 6 + 1


def test_a_position_blind_judge_gives_real_wins(aws, monkeypatch):
    rank = {HAIKU: 3, LLAMA: 2, MISTRAL: 1}
    judges = scripted_judges(
        {NOVA: {HAIKU: 9, LLAMA: 6, MISTRAL: 3}},
        control={NOVA: 2},
        prefer=lambda a, b: "A" if rank[a] > rank[b] else "B",
    )
    _, doc = run(monkeypatch, aws, judges, mode="pairwise")
    pairwise = doc["judgeHealth"]["pairwise"]
    assert pairwise["positionFlipRate"] == 0.0
    assert pairwise["wins"] == {HAIKU: 2, LLAMA: 1, MISTRAL: 0}
    assert not any(m["tie"] for m in doc["models"].values())


# --- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("throttled", ["a comparison", "the control"])
def test_a_retried_step_recalls_nothing_that_succeeded(aws, monkeypatch, throttled):
    # Given a judge throttled once, on a pairwise comparison (first phase) or on the control (second)
    def throttle_once(judge, shown):
        if throttled == "a comparison":
            return len(shown) == 2 and MODEL_OF[shown[0]] == MISTRAL
        return len(shown) == 1 and shown[0] not in MODEL_OF

    judges = scripted_judges({NOVA: {HAIKU: 9, LLAMA: 6, MISTRAL: 3}}, control={NOVA: 2}, throttle_once=throttle_once)
    ev = event("three-answers.json")
    seed(aws, ev, mode="pairwise")
    with converse_server(judges) as server:
        lambda_handler = handler(monkeypatch, server)
        # When the first attempt fails as the state machine sees it
        with pytest.raises(ModelThrottledError):
            lambda_handler(ev, CONTEXT)
        # and the state machine retries the step
        out = lambda_handler(ev, CONTEXT)
    # Then every judgment succeeded exactly once over both attempts
    assert judges.throttled
    assert max(judges.answered.values()) == 1
    assert sum(judges.answered.values()) == 3 + 6 + 1
    doc = aws.require_json(out["scoresKey"])
    assert doc["judgeHealth"]["controlPassed"] is True
    assert doc["judgeHealth"]["pairwise"]["pairs"] == 3
    assert doc["judgeCalls"]["cached"] >= 1


def test_no_answer_to_judge_calls_no_judge_and_measures_nothing(aws, monkeypatch):
    ev = event("three-answers.json")
    ev["results"] = [
        {"modelId": r["modelId"], "status": "failed", "error": {"error": "ModelTimeoutError"}} for r in ev["results"]
    ]
    seed(aws, ev, mode="pairwise")
    judges = scripted_judges({NOVA: {}})
    with converse_server(judges) as server:
        out = handler(monkeypatch, server)(ev, CONTEXT)
    doc = aws.require_json(out["scoresKey"])
    assert (out["scored"], out["unscored"]) == (0, 0)
    assert doc["models"] == {} and doc["judgeCalls"]["count"] == 0
    assert doc["judgeHealth"]["controlPassed"] is None and doc["judgeHealth"]["control"] is None
    assert doc["judgeHealth"]["pairwise"]["pairs"] == 0
    assert doc["judgeHealth"]["pairwise"]["positionFlipRate"] is None
    assert not judges.answered
