"""A dataset's transcripts through the report function, in-process under moto: ``results.jsonl`` has one
line per item x model with the answer, its cost and the judge's reasons; ``report.json`` stays lean; the
page embeds the items once, as data no answer can break out of."""

from __future__ import annotations

import json
import re

import pytest

from bakeoff.estimate import cost_usd
from bakeoff.item_results import ItemResult, parse_jsonl
from bakeoff.models import Owner, Usage
from bakeoff.report import Report
from bakeoff.storage import Store, evaluation_key
from functions.api.models import ApiSettings
from functions.api.service import describe_evaluation
from tests.conftest import offline
from tests.support.dataset_bucket import Item, Outcome, default_answer, default_reason, write_dataset_run

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-lite-v1:0"
MODELS = [CLAUDE, NOVA]
ARTICLE = (
    "The council of {town} voted 7 to 2 on Tuesday to approve a new electric ferry for the island, "
    "ending a long debate."
)
NOW = "2026-12-02T00:00:00+00:00"
HOSTILE = 'Fine.</script><script>window.__pwned=1</script><!-- and "quotes" & <b>tags</b>'


def items() -> list[Item]:
    return [
        Item("a", ARTICLE.format(town="Eastport"), {CLAUDE: Outcome(score=8), NOVA: Outcome(score=5)}),
        Item(
            "b",
            ARTICLE.format(town="Westbury"),
            {CLAUDE: Outcome(score=9, answer=HOSTILE), NOVA: Outcome(kind="failed")},
            reference="Westbury approved the ferry.",
        ),
        Item("c", ARTICLE.format(town="Northgate"), {CLAUDE: Outcome(kind="unscored"), NOVA: Outcome(score=6)}),
        Item("d", ARTICLE.format(town="Southwick"), {}, judge="failed"),
        Item("e", ARTICLE.format(town="Lowfield"), {}, judge="never ran"),
    ]


@pytest.fixture(scope="module")
def written() -> dict[str, bytes]:
    """The report function run on a three-item dataset; every object it wrote under reports/<id>/."""
    with offline() as (stack, _server):
        store = Store(stack.s3, stack.stack.bucket_name)
        write_dataset_run(store, "ds-tx", MODELS, items())
        function = stack.lambda_server.functions["ReportFunction"]
        out, error = stack.lambda_server.invoke(function, {"evaluationId": "ds-tx", "mode": "dataset"})
        assert error is None, out
        keys = store.list_keys("reports/ds-tx/")
        written = {key.rsplit("/", 1)[1]: stack.get_object(key) for key in keys}
        # The API's status of the finished run (its execution unknown to Step Functions: read from the bucket)
        store.put_json(evaluation_key("ds-tx", "owner.json"), Owner(api_key_id="key-1", created_at=NOW).dump())
        api = ApiSettings(BUCKET_NAME=stack.stack.bucket_name, STATE_MACHINE_ARN=stack.state_machine_arn)
        status = describe_evaluation("ds-tx", api_key_id="key-1", sfn=stack.sfn, s3=stack.s3, api=api)
        written["status"] = json.dumps(status.dump()).encode()
        return written


def lines(written: dict[str, bytes]) -> list[ItemResult]:
    return parse_jsonl(written["results.jsonl"].decode())


def test_results_jsonl_sits_beside_the_report_with_one_line_per_item_and_model(written):
    assert set(written) - {"status"} == {"report.json", "report.html", "results.csv", "results.jsonl"}
    text = written["results.jsonl"].decode()
    assert len(text.splitlines()) == 10 and text.endswith("\n")
    got = lines(written)
    assert [(x.item_id, x.model_id) for x in got] == [(i, m) for i in "abcde" for m in MODELS]
    assert {x.evaluation_id for x in got} == {"ds-tx"}
    # every line is the model's dump, nothing more and nothing less
    assert [json.loads(raw) for raw in text.splitlines()] == [x.dump() for x in got]


def test_a_scored_line_has_the_answer_its_cost_and_the_judges_reason_per_criterion(written):
    line = next(x for x in lines(written) if (x.item_id, x.model_id) == ("a", CLAUDE))
    usage = Usage(input_tokens=300, output_tokens=40)
    assert (line.status, line.score_status, line.weighted_score) == ("ok", "scored", 8.0)
    assert line.answer == default_answer("a", CLAUDE) and line.stop_reason == "end_turn"
    assert line.usage == usage and line.latency_ms == 900
    assert line.cost_usd == pytest.approx(cost_usd(CLAUDE, usage)) and line.cost_usd > 0
    assert line.judge_cost_usd == pytest.approx(0.0004)
    assert {name: (s.score, s.reason) for name, s in line.scores.items()} == {
        name: (8, default_reason("a", CLAUDE, name)) for name in ("accuracy", "completeness", "following-instructions")
    }
    assert line.reference is None and line.error is None and line.unscored_reason is None


def test_a_failed_models_line_has_its_status_and_error_and_no_score(written):
    line = next(x for x in lines(written) if (x.item_id, x.model_id) == ("b", NOVA))
    assert (line.status, line.score_status) == ("failed", "not judged")
    assert line.weighted_score is None and line.scores == {} and line.answer is None
    assert line.error is not None and line.error.error == "ModelThrottledError"
    assert line.error.message == "Too many requests, please wait."
    raw = json.loads(written["results.jsonl"].decode().splitlines()[3])
    assert raw["weightedScore"] is None and raw["scores"] == {} and raw["answer"] is None


def test_an_unscored_line_says_why_and_keeps_the_answer(written):
    line = next(x for x in lines(written) if (x.item_id, x.model_id) == ("c", CLAUDE))
    assert (line.status, line.score_status, line.weighted_score) == ("ok", "unscored", None)
    assert line.unscored_reason == "the judge's reply was not valid JSON"
    assert line.answer == default_answer("c", CLAUDE) and line.scores == {}


def test_when_the_judge_failed_on_an_item_its_answers_stand_not_judged(written):
    got = [x for x in lines(written) if x.item_id == "d"]
    assert [(x.status, x.score_status, x.weighted_score, x.scores) for x in got] == [("ok", "not judged", None, {})] * 2
    assert [x.answer for x in got] == [default_answer("d", m) for m in MODELS]
    assert {x.unscored_reason for x in got} == {
        "the judge failed: ModelThrottledError: The judge was throttled past every retry."
    }


def test_an_item_that_was_never_scored_has_failed_lines_saying_so(written):
    got = [x for x in lines(written) if x.item_id == "e"]
    assert [(x.status, x.score_status, x.answer, x.weighted_score) for x in got] == [
        ("failed", "not judged", None, None)
    ] * 2
    assert {(x.error.error, x.error.message) for x in got if x.error} == {
        ("ItemNotScored", "the item was not scored (its child execution failed)")
    }


def test_the_reference_rides_on_its_own_items_lines_only(written):
    assert {(x.item_id, x.reference) for x in lines(written)} == {
        ("a", None),
        ("b", "Westbury approved the ferry."),
        ("c", None),
        ("d", None),
        ("e", None),
    }


def test_the_scores_in_results_jsonl_are_report_jsons_and_report_json_carries_no_answer_text(written):
    report = Report.model_validate_json(written["report.json"])
    assert report.dataset is not None
    expected = {(r.item_id, r.model_id): (r.status, r.score_status, r.weighted_score) for r in report.dataset.rows}
    assert {(x.item_id, x.model_id): (x.status, x.score_status, x.weighted_score) for x in lines(written)} == expected
    raw = written["report.json"].decode()
    assert default_answer("a", CLAUDE) not in raw and "window.__pwned" not in raw
    assert default_reason("a", CLAUDE, "accuracy") not in raw


def test_the_page_links_the_export_and_embeds_the_items_as_data_no_answer_can_end(written):
    html = written["report.html"].decode()
    assert '<a href="results.jsonl" id="results-jsonl">results.jsonl</a> (10 lines' in html
    # Two script elements: the hashed script and the data block; the hostile answer opened neither
    assert len(re.findall(r"<script[\s>]", html, flags=re.IGNORECASE)) == 2
    block = re.search(r'<script type="application/json" id="tx-data">(.*?)</script>', html, flags=re.DOTALL)
    assert block is not None and "<" not in block.group(1) and ">" not in block.group(1)
    data = json.loads(block.group(1))
    assert [i["id"] for i in data["items"]] == ["a", "b", "c", "d", "e"]
    assert data["items"][1]["results"][CLAUDE]["answer"] == HOSTILE  # the text itself, unharmed
    assert data["items"][1]["results"][NOVA]["error"].startswith("ModelThrottledError: ")
    assert data["items"][1]["reference"] == "Westbury approved the ferry."


def test_the_api_status_signs_the_exports_of_a_dataset_run(written):
    # submit downloads what these sign, so its folder holds what local run --out writes
    status = json.loads(written["status"])
    assert status["status"] == "SUCCEEDED"
    assert "/reports/ds-tx/results.jsonl?" in status["resultsJsonlUrl"]
    assert "/reports/ds-tx/results.csv?" in status["resultsCsvUrl"]
    assert "Signature=" in status["resultsJsonlUrl"]
