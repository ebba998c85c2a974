"""The report's money lines (issue 19): new spend beside the cost, and the judge's prompt cache with its saving."""

from __future__ import annotations

import json
from pathlib import Path

from bakeoff.report import ModelEntry, Report
from bakeoff.scores import JudgeCalls
from functions.report.render import render_report as render_model
from functions.report.spend import new_spend_usd

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "reports" / "three_models.json"


def render_report(report: dict) -> str:
    """The page of a report.json document, read through the model as the report step holds it."""
    return render_model(Report.model_validate(report))


def entry(**fields) -> ModelEntry:
    base = {
        "modelId": "m",
        "name": "m",
        "status": "ok",
        "output": "x",
        "usage": {},
        "latencyMs": 1,
        "scoreStatus": "scored",
        "scores": {},
        "weightedScore": 7.0,
    }
    return ModelEntry.model_validate(base | fields)


def test_new_spend_counts_only_what_this_run_called():
    entries = [
        entry(costUsd=0.5, cached=True),
        entry(costUsd=0.25),
        entry(costUsd=None, unpriced=True),
        entry(costUsd=9.0, newCostUsd=1.0),
    ]  # a dataset entry: 1.0 of its 9.0 was new
    calls = JudgeCalls.model_validate({"count": 1, "usage": {}, "costUsd": 0.5, "newSpendUsd": 0.125})
    assert new_spend_usd(entries, calls, judge_cost=0.5) == 0.25 + 1.0 + 0.125
    assert new_spend_usd(entries, None, judge_cost=0.5) == 0.25 + 1.0 + 0.5  # older scores.json: all judging new


def test_the_page_shows_new_spend_and_the_judge_cache():
    report = json.loads(FIXTURE.read_text())
    report["totals"]["newSpendUsd"] = 0
    report["judgeCalls"] = {
        "count": 4,
        "costUsd": 0.0632,
        "cached": 0,
        "uncachedCostUsd": 0.1605,
        "cacheSavingUsd": 0.0973,
        "newSpendUsd": 0.0632,
        "usage": {
            "inputTokens": 400,
            "outputTokens": 600,
            "cacheReadInputTokens": 39699,
            "cacheWriteInputTokens": 13233,
        },
    }
    html = render_report(report)
    assert "New spend" in html
    cache = html.split("Judge prompt cache", 1)[1][:400]
    assert "39,699 tokens read" in cache and "13,233 written" in cache and "$0.0973" in cache


def test_no_cache_line_without_cache_tokens():
    report = json.loads(FIXTURE.read_text())
    report["judgeCalls"] = {"count": 4, "costUsd": 0.1, "usage": {"inputTokens": 4000, "outputTokens": 400}}
    assert "Judge prompt cache" not in render_report(report)
