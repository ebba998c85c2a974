"""Judge health through the real ASL, offline: moto Step Functions and S3, the real handlers, and
candidates and judges scripted at the Converse boundary. What the score step measures must reach
``report.json``, and a throttled judge must be retried by the state machine without re-judging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff_offline.stack import OfflineStack
from converse_local.faults import Fault
from tests.support.converse_fakes import (
    ScriptedModels,
    answer,
    converse_server,
    preference,
    shown_answers,
    verdict,
)

ROOT = Path(__file__).resolve().parents[2]
REQUEST = json.loads((ROOT / "events" / "statemachine" / "podcast-bedrock.json").read_text())
JUDGE = REQUEST["judgeModelId"]
ANSWERS = {
    REQUEST["models"][0]: (
        "HOST 1: Harborview voted 7 to 2 to replace the Pelham Street ferry.\n"
        "HOST 2: Mayor Lucinda Ortega says 180 passengers and 24 cars, from spring 2029.\n"
        "HOST 1: Recap: 31.4 million dollars."
    ),
    REQUEST["models"][1]: "HOST 1: A new ferry for Harborview.\nHOST 2: It carries 200 people.",
    REQUEST["models"][2]: "Harborview gets an electric ferry in 2029.",
}


def scripted(score: int) -> ScriptedModels:
    """Candidates answer from ``ANSWERS``; the judge gives every criterion ``score`` and prefers answer A."""

    def judge(model_id: str, request: dict) -> dict:
        if len(shown_answers(request)) == 2:
            return preference(request, "A", reason="A reads better")
        return verdict(request, score, reason="superb", evidence=["voted 7 to 2"], input_tokens=1000, output_tokens=100)

    return ScriptedModels(
        candidate=lambda model_id, request: answer(ANSWERS[model_id], input_tokens=1200, output_tokens=80),
        by_model={JUDGE: judge},
    )


def run(backend: ScriptedModels, request: dict, faults: dict[str, Fault] | None = None):
    with converse_server(backend, faults=faults) as server:
        env = {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url}
        with OfflineStack(ROOT, env=env, retry_time_scale=0.01) as stack:
            execution = stack.run(request, timeout=120)
            assert execution.succeeded, (execution.error, execution.cause)
            return execution, stack.report(execution.evaluation_id), stack.history(execution.arn)


def test_a_judge_that_gives_everything_10_fails_the_control_and_the_report_says_so():
    # Given a judge that cannot tell a corrupted answer from the original
    backend = scripted(score=10)
    # When the whole evaluation runs
    _, report, _ = run(backend, REQUEST)
    # Then
    health = report["judgeHealth"]
    assert health["controlPassed"] is False
    assert health["control"]["passed"] is False
    assert (health["control"]["originalScore"], health["control"]["controlScore"]) == (10.0, 10.0)
    assert health["control"]["modelId"] == REQUEST["models"][0]
    assert "number(s) changed" in health["control"]["corruption"]
    assert (health["unscoredRate"], health["judged"], health["unscored"]) == (0.0, 3, 0)
    assert health["lengthBias"]["n"] == 3
    # every model scored 10: all tied, whatever the ranking shows
    assert all(m["tie"] and len(m["tiedWith"]) == 2 for m in report["models"])
    assert all("metrics" in m for m in report["models"])
    # three answers and the control, all in the judge's cost
    judge_calls = sum(backend.answered_by(JUDGE).values())
    assert judge_calls == 4
    assert report["judgeCostUsd"] == pytest.approx(judge_calls * (1000 * 0.0008 + 100 * 0.0032) / 1000)


def test_a_throttled_judge_is_retried_by_the_state_machine_without_rejudging():
    # Given the judge's first call is throttled, in pairwise mode
    backend = scripted(score=7)
    _, report, history = run(backend, {**REQUEST, "mode": "pairwise"}, faults={JUDGE: Fault(throttle_first=1)})
    # Then the Score step failed once with the retryable error and succeeded on retry
    failures = [e for e in history if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failures] == ["ModelThrottledError"]
    # and no judgment that succeeded was asked for twice: 3 answers + 6 ordered pairs + 1 control
    assert max(backend.answered_by(JUDGE).values()) == 1
    assert sum(backend.answered_by(JUDGE).values()) == 3 + 6 + 1
    pairwise = report["judgeHealth"]["pairwise"]
    assert (pairwise["positionFlipRate"], pairwise["ties"]) == (1.0, 3)
    assert report["judgeHealth"]["controlPassed"] is False  # 7 for the control as for the original
