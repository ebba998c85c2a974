"""The report step on the sample events, in-process under moto: what it writes is exactly a ``Report``
dump, and the judge-health grades reach report.json and results.csv alike."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bakeoff.report import Report
from bakeoff_offline.bucket import load_objects
from tests.conftest import ROOT, load_event, offline


@pytest.mark.parametrize("event", ["report/valid.json", "report/one-model-failed.json"])
def test_report_json_is_a_report_dump_and_the_csv_carries_its_judge_health(event: str) -> None:
    # Given the sample bucket (its scores.json has a control check the sample judge failed)
    with offline() as (stack, _server):
        load_objects(stack.stack.bucket_name, ROOT / "events" / "bucket")
        # When the report function runs on the sample event
        out, error = stack.lambda_server.invoke(stack.lambda_server.functions["ReportFunction"], load_event(event))
        assert error is None, out
        written = json.loads(stack.get_object(out["reportKey"]))
        rows = list(
            csv.DictReader(
                io.StringIO(
                    stack.get_object(out["reportKey"].replace("report.json", "results.csv")).decode(), newline=""
                )
            )
        )
        html = stack.get_object(out["htmlKey"]).decode()
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
