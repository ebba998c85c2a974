"""The one scripted Converse fake (tests/support/converse_fakes.py) does what its rules say: the tests of
every tier lean on it, so its order of rules and its records are checked here, without a server."""

from __future__ import annotations

import pytest

from converse_local import wire
from tests.support.converse_fakes import (
    ScriptedModels,
    answer,
    error,
    preference,
    throttled,
    verdict,
)

CANDIDATE = {"messages": [{"role": "user", "content": [{"text": "the article"}]}]}
JUDGE = {
    "system": [{"text": "rubric"}],
    "messages": [{"role": "user", "content": [{"text": "an answer"}]}],
    "toolConfig": {
        "tools": [
            {
                "toolSpec": {
                    "name": "record_verdict",
                    "inputSchema": {
                        "json": {"properties": {"scores": {"properties": {"accuracy": {}, "structure": {}}}}}
                    },
                }
            }
        ]
    },
}


def tool_input(reply: dict) -> dict:
    return reply["output"]["message"]["content"][0]["toolUse"]["input"]


def test_by_default_candidates_answer_and_the_judge_scores_every_criterion_7():
    models = ScriptedModels()
    assert models("m1", CANDIDATE)["output"]["message"]["content"][0]["text"].endswith("(m1)")
    scores = tool_input(models("j", JUDGE))["scores"]
    assert {name: s["score"] for name, s in scores.items()} == {"accuracy": 7, "structure": 7}
    assert models.model_ids == ["m1", "j"] and models.requests == [CANDIDATE, JUDGE]


def test_replies_in_turn_come_first_and_the_last_repeats():
    models = ScriptedModels(throttled(), answer("second"), by_model={"m": error("AccessDeniedException", "no")})
    with pytest.raises(wire.ConverseError) as first:
        models("m", CANDIDATE)
    assert first.value.error_type == "ThrottlingException"
    assert [models("m", CANDIDATE)["output"]["message"]["content"][0]["text"] for _ in range(2)] == ["second"] * 2


def test_a_models_own_rule_comes_before_its_role_and_an_error_is_raised_fresh_each_time():
    models = ScriptedModels(by_model={"m2": error("AccessDeniedException", "no access")})
    raised = []
    for _ in range(2):
        with pytest.raises(wire.ConverseError) as failed:
            models("m2", CANDIDATE)
        raised.append(failed.value)
    assert raised[0] is not raised[1] and {e.error_type for e in raised} == {"AccessDeniedException"}
    assert models("m1", CANDIDATE)["output"]["message"]["content"][0]["text"]  # others still answer
    assert models.answered_by("m2") == {} and sum(models.answered_by("m1").values()) == 1


def test_a_rule_may_be_a_function_and_may_return_an_error():
    models = ScriptedModels(
        judge=lambda model_id, request: verdict(request, lambda name: len(name)),
        candidate=lambda model_id, request: error("ValidationException", "too long"),
    )
    assert {n: s["score"] for n, s in tool_input(models("j", JUDGE))["scores"].items()} == {
        "accuracy": 8,
        "structure": 9,
    }
    with pytest.raises(wire.ConverseError, match="too long"):
        models("m", CANDIDATE)


def test_throttle_first_throttles_each_matching_request_once_and_counts_only_answers():
    models = ScriptedModels(throttle_first=lambda model_id, request: model_id == "j")
    with pytest.raises(wire.ConverseError):
        models("j", JUDGE)
    models("j", JUDGE)
    models("m", CANDIDATE)
    assert len(models.throttled) == 1
    assert list(models.answered_by("j").values()) == [1] and sum(models.answered.values()) == 2


def test_a_preference_goes_through_the_requests_own_tool():
    pairwise = {**JUDGE, "toolConfig": {"tools": [{"toolSpec": {"name": "record_preference"}}]}}
    reply = preference(pairwise, "B")
    assert reply["output"]["message"]["content"][0]["toolUse"]["name"] == "record_preference"
    assert tool_input(reply) == {"reason": "read both", "winner": "B"}
