"""A checkpointed rerun costs nothing new (issue 19): its report shows the results' cost as before and, beside
it, $0 of new spend; and it emits no CostUsd metric, so the daily cost alarms do not count it twice."""

from __future__ import annotations

import pytest

from tests.conftest import offline
from tests.support.converse_fakes import good_responder
from tests.support.printed import printed_objects


def cost_records(out: str) -> list[float]:
    return [r["CostUsd"][0] for r in printed_objects(out, '{"_aws"') if r.get("scope") == "all"]


def test_a_rerun_from_checkpoints_reports_no_new_spend_and_emits_no_cost(bedrock_request, capfd):
    with offline(good_responder(input_tokens=1000, output_tokens=500)) as (stack, server):
        # Given a first run, which pays for every answer and verdict
        first = stack.run(bedrock_request)
        first_report = stack.report(first.evaluation_id)
        first_costs = cost_records(capfd.readouterr().out)
        calls = sum(server.calls.values())
        # When the same request runs again (checkpoints on, as by default)
        second = stack.run(bedrock_request)
        second_report = stack.report(second.evaluation_id)
        second_costs = cost_records(capfd.readouterr().out)
        html = (
            stack.s3.get_object(Bucket=stack.stack.bucket_name, Key=f"reports/{second.evaluation_id}/report.html")[
                "Body"
            ]
            .read()
            .decode()
        )
    assert first.succeeded and second.succeeded
    # Then the first run's new spend is its whole cost, and its metrics add up to it
    assert first_report["totals"]["newSpendUsd"] == pytest.approx(first_report["totalCostUsd"])
    assert sum(first_costs) == pytest.approx(first_report["totalCostUsd"])
    # the rerun called no model, emitted no cost, and says $0 new beside the same cost of its results
    assert sum(server.calls.values()) == calls
    assert second_costs == []
    assert second_report["totalCostUsd"] == pytest.approx(first_report["totalCostUsd"])
    assert second_report["totals"]["newSpendUsd"] == 0
    assert all(m["cached"] for m in second_report["models"])
    assert second_report["judgeCalls"]["cached"] == second_report["judgeCalls"]["count"]
    assert "New spend" in html and "$0" in html.split("New spend", 1)[1][:200]


def test_a_dataset_rerun_reports_no_new_spend_either(capfd):
    from tests.statemachine.test_dataset import DATASET, dataset_request

    with offline(good_responder(input_tokens=200, output_tokens=20)) as (stack, _server):
        request = dataset_request(stack, DATASET.read_bytes())
        first = stack.run(request)
        first_report = stack.report(first.evaluation_id)
        capfd.readouterr()
        second = stack.run(request)
        second_report = stack.report(second.evaluation_id)
        second_costs = cost_records(capfd.readouterr().out)
    assert first.succeeded and second.succeeded
    assert first_report["totals"]["newSpendUsd"] == pytest.approx(first_report["totalCostUsd"])
    assert second_report["totalCostUsd"] == pytest.approx(first_report["totalCostUsd"])
    assert second_report["totals"]["newSpendUsd"] == 0
    assert second_costs == []
