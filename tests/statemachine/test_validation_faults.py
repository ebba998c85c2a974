"""Issue 16's validation faults, through the real state machine: what is refused calls no model at all;
what is allowed but unpriced runs and is reported as unpriced, never as $0.00.

Each test counts the calls that reached the Converse boundary (the paid calls) and what the run kept."""

from __future__ import annotations

import copy
import json
import re

from tests.conftest import EVENTS, offline
from tests.statemachine.test_dataset import DATASET, dataset_request
from tests.support.converse_fakes import good_responder, is_judge_call

BLANK_ARTICLES = {
    "200 spaces": " " * 200,
    "zero-width spaces": "\u200b" * 200,
    "NULs": "\x00" * 200,
    "combining marks": "\u0301" * 200,
    "RTL marks": "\u200f" * 200,
}
UNPRICED = "acme.brand-new-v1:0"


def bedrock_request(**changes) -> dict:
    request = json.loads((EVENTS / "statemachine" / "podcast-bedrock.json").read_text())
    return copy.deepcopy(request) | changes


def test_blank_articles_prompts_and_criteria_call_no_model() -> None:
    cases = {f"article of {name}": bedrock_request(article=text) for name, text in BLANK_ARTICLES.items()}
    cases["prompt of spaces"] = bedrock_request(prompt=" " * 60)
    cases["criterion description of spaces"] = bedrock_request(
        scoringCriteria={"accuracy": 5, "clarity": {"weight": 2, "description": " " * 40}}
    )
    with offline(good_responder()) as (stack, server):
        for name, request in cases.items():
            execution = stack.run(request)
            assert execution.error == "RequestValidationError", name
            assert any("no visible character" in e["message"] for e in execution.cause_json()["errors"]), name
        assert sum(server.calls.values()) == 0


def test_a_dataset_with_one_blank_article_among_37_lines_calls_no_model() -> None:
    good = DATASET.read_text().splitlines()
    lines = [json.dumps(json.loads(good[i % len(good)]) | {"id": f"item-{i:02d}"}) for i in range(37)]
    lines[20] = json.dumps({"id": "item-20", "article": "\u200b \u200f\u0301" * 50})
    with offline(good_responder()) as (stack, server):
        execution = stack.run(dataset_request(stack, "\n".join(lines).encode()))
    assert execution.status == "FAILED" and execution.error == "RequestValidationError"
    assert [e["field"] for e in execution.cause_json()["errors"]] == ["dataset line 21: article"]
    assert sum(server.calls.values()) == 0


def test_the_same_model_through_an_inference_profile_calls_no_model() -> None:
    request = bedrock_request(models=["amazon.nova-lite-v1:0", "us.amazon.nova-lite-v1:0"])
    with offline(good_responder()) as (stack, server):
        execution = stack.run(request)
    assert execution.error == "RequestValidationError"
    assert [e["field"] for e in execution.cause_json()["errors"]] == ["models[1]"]
    assert sum(server.calls.values()) == 0


def test_an_allowed_unpriced_model_is_reported_unpriced_never_zero() -> None:
    # Given an unpriced model the deployment allows, and a request that allows it
    allowed = {"AllowedModelIds": ["anthropic.claude-3-haiku-20240307-v1:0", "amazon.nova-pro-v1:0", UNPRICED]}
    request = bedrock_request(
        models=["anthropic.claude-3-haiku-20240307-v1:0", UNPRICED],
        allowUnpriced=True,
        judgeModelId="amazon.nova-pro-v1:0",
        controlAnswer=False,
    )
    # When
    with offline(good_responder(), parameters=allowed) as (stack, server):
        execution = stack.run(request)
        assert execution.succeeded, execution.cause
        report = stack.report(execution.evaluation_id)
        html = stack.get_object(f"reports/{execution.evaluation_id}/report.html").decode()
    # Then both answered and were judged (every paid call counted) ...
    candidates = sum(1 for _m, body in server.requests if not is_judge_call(body))
    assert candidates == 2 and sum(server.calls.values()) == 4
    models = {m["modelId"]: m for m in report["models"]}
    assert models[UNPRICED]["status"] == "ok" and models[UNPRICED]["scoreStatus"] == "scored"
    # ... and the unpriced one costs "unknown", in report.json and on the page, never $0
    assert models[UNPRICED]["costUsd"] is None and models[UNPRICED]["unpriced"] is True
    assert models["anthropic.claude-3-haiku-20240307-v1:0"]["costUsd"] > 0
    assert report["totals"]["unpricedModels"] == [UNPRICED]
    assert next(line for line in report["estimate"]["lines"] if line["modelId"] == UNPRICED).get("costUsd") is None
    assert any("no price" in w for w in report["warnings"])
    text = re.sub(r"<[^>]+>", " ", html)
    assert re.search(r"acme\.brand-new-v1:0\s+unpriced · 1,200 in / 300 out", text)  # its answer card
    assert re.search(r"Total cost\s+\$[0-9.]+ \+ unpriced", text)
    assert stack_csv_row(report, UNPRICED)["costUsd"] == "unpriced"


def stack_csv_row(report: dict, model_id: str) -> dict:
    import csv
    import io

    from bakeoff.report import Report
    from functions.report.results_csv import render_csv

    return next(
        row
        for row in csv.DictReader(io.StringIO(render_csv(Report.model_validate(report))))
        if row["modelId"] == model_id
    )
