"""The report step on the sample events, in-process under moto: what it writes is exactly a ``Report``
dump, and the judge-health grades reach report.json and results.csv alike."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bakeoff.report import Report
from bakeoff.storage import Store
from bakeoff_offline.bucket import load_objects
from tests.conftest import ROOT, load_event, offline


def run_report(event: dict, stop_reasons: dict[str, str] | None = None) -> tuple[dict, str, str, dict]:
    """The report function on ``event`` over the sample bucket, after rewriting the stop reason of the
    answers named in ``stop_reasons`` (answer key -> stop reason); report.json, the page, results.csv and
    the function's output."""
    with offline() as (stack, _server):
        load_objects(stack.stack.bucket_name, ROOT / "events" / "bucket")
        store = Store(stack.s3, stack.stack.bucket_name)
        for key, reason in (stop_reasons or {}).items():
            store.put_checkpoint(key, store.get_checkpoint(key) | {"stopReason": reason})
        out, error = stack.lambda_server.invoke(stack.lambda_server.functions["ReportFunction"], event)
        assert error is None, out
        written = json.loads(stack.get_object(out["reportKey"]))
        html = stack.get_object(out["htmlKey"]).decode()
        results = stack.get_object(out["reportKey"].replace("report.json", "results.csv")).decode()
    return written, html, results, out


@pytest.mark.parametrize("event", ["report/valid.json", "report/one-model-failed.json"])
def test_report_json_is_a_report_dump_and_the_csv_carries_its_judge_health(event: str) -> None:
    # Given the sample bucket (its scores.json has a control check the sample judge failed)
    # When the report function runs on the sample event
    written, html, results, out = run_report(load_event(event))
    rows = list(csv.DictReader(io.StringIO(results, newline="")))
    # Then report.json reads into the model and dumps back to the very same document
    report = Report.model_validate(written)
    assert report.dump() == written
    # and the grades stored once are the ones every output shows
    assert written["judgeHealth"]["checks"] == {
        "unscoredRate": "pass",
        "control": "fail",
        "lengthBias": "info",
        "noise": "info",
    }
    assert written["judgeHealth"]["verdict"] == "fail"
    assert {(r["judgeHealth"], r["judgeHealthChecks"]) for r in rows} == {
        ("fail", "unscoredRate=pass; control=fail; lengthBias=info; noise=info")
    }
    assert "Judge health check failed:</b> Control answer." in html
    # and the compatibility copies of the cost totals stay readable
    assert written["totalCostUsd"] == written["totals"]["totalCostUsd"] == out["totalCostUsd"]


def test_an_answer_that_stopped_at_max_tokens_is_named_in_the_notices() -> None:
    # Given the sample bucket, where one answer's checkpoint says it stopped at the output limit
    event = load_event("report/valid.json")
    cut = event["results"][1]
    # When the report function runs
    written, html, _results, _out = run_report(event, {cut["answerKey"]: "max_tokens"})
    # Then one notice names that model (by its display name) and the limit, and no other model
    entry = next(m for m in written["models"] if m["modelId"] == cut["modelId"])
    assert entry["stopReason"] == "max_tokens"
    cut_off = [n for n in written["notices"] if "stopped at the output limit" in n]
    names = {m["modelId"]: m["name"] for m in written["models"]}
    assert len(cut_off) == 1 and cut_off[0].startswith(f"{names[cut['modelId']]} stopped")
    stored = json.loads((ROOT / "events" / "bucket" / "evaluations" / "sample-0001" / "request.json").read_text())
    assert f"(maxTokens {stored['request']['maxTokens']})" in cut_off[0]
    assert not any(names[m] in cut_off[0] for m in names if m != cut["modelId"])
    assert "stopped at the output limit" in html


def test_answers_that_ended_on_their_own_get_no_cut_off_notice() -> None:
    written, _html, _results, _out = run_report(load_event("report/valid.json"))
    assert {m["stopReason"] for m in written["models"]} == {"end_turn"}
    assert not any("output limit" in n for n in written["notices"])
