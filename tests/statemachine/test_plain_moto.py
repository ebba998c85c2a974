"""On a moto the tunings were not checked with, the offline stack runs on plain moto: slower, the same
results. The whole workflow, Retry and Catch included, tuned and untuned side by side."""

from __future__ import annotations

import logging

import moto

from bakeoff_offline import moto_tuning
from converse_local.faults import Fault
from tests.conftest import offline
from tests.support.converse_fakes import ScriptedModels, no_access

LLAMA = "meta.llama3-70b-instruct-v1:0"
MISTRAL = "mistral.mistral-large-2402-v1:0"


def outcome(bedrock_request) -> tuple[list[tuple], int]:
    """What a run decided, per model, and how many calls the throttled model took."""
    with offline(ScriptedModels(by_model={MISTRAL: no_access()}), faults={LLAMA: Fault(throttle_first=1)}) as (
        stack,
        server,
    ):
        execution = stack.run(bedrock_request)
        assert execution.succeeded, execution.cause
        report = stack.report(execution.evaluation_id)
    decided = sorted(
        (m["modelId"], m["status"], m["scoreStatus"], m["weightedScore"], (m.get("error") or {}).get("error"))
        for m in report["models"]
    )
    return decided, server.calls[LLAMA]


def test_plain_moto_gives_the_same_report_as_tuned_moto(bedrock_request, monkeypatch, caplog):
    # Given a run on the tuned stack: one model throttled once (Retry), one refused for good (Catch)
    tuned = outcome(bedrock_request)
    # When moto is a version the tunings do not know
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with caplog.at_level(logging.WARNING, logger=moto_tuning.__name__):
        untuned = outcome(bedrock_request)
    # Then it ran untuned, said so, and decided the same
    assert any("plain moto" in r.getMessage() for r in caplog.records if r.name == moto_tuning.__name__)
    assert untuned == tuned
    assert tuned[1] == 2  # the throttled call and its retry
    assert [m[1] for m in tuned[0]].count("failed") == 1
