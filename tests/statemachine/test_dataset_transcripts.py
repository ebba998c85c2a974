"""A dataset through the real state machine, and its transcripts as ``local run --out`` leaves them: the
report folder holds ``results.jsonl`` beside the report, one line per item x model, each carrying the
answer that item's candidate gave and the reasons that item's judge gave (never another item's)."""

from __future__ import annotations

import json
import re

from bakeoff.item_results import parse_jsonl
from converse_local import wire
from tests.conftest import offline
from tests.statemachine.test_dataset import CLAUDE, DATASET, NOVA, dataset_request
from tests.support.converse_fakes import ScriptedModels, answer, error, shown_answers, verdict

DATELINE = re.compile(r"\] ([A-Z][A-Z ]+?) - ")


def town(text: str) -> str:
    return DATELINE.search(text).group(1)


def judge(model_id, request):
    place, judged = town(wire.last_user_text(request)), shown_answers(request)[0]
    return verdict(request, 8 if CLAUDE in judged else 6, reason=lambda name: f"{name}: judged on {place}")


def candidate(model_id, request):
    place = town(wire.last_user_text(request))
    if model_id == NOVA and place == "NORTHGATE":  # item-07
        return error("ValidationException", "Input is too long for this model.")
    return answer(f"{place} in one line, by {model_id}.", input_tokens=200, output_tokens=20)


def test_the_report_folder_holds_each_items_own_answers_and_reasons_in_results_jsonl(tmp_path):
    dataset = [json.loads(line) for line in DATASET.read_text().splitlines()]
    with offline(ScriptedModels(candidate=candidate, judge=judge)) as (stack, _server):
        execution = stack.run(dataset_request(stack, DATASET.read_bytes()))
        assert execution.succeeded, execution.cause
        folder = stack.download_reports(execution.evaluation_id, tmp_path)
    assert {p.name for p in folder.iterdir()} == {"report.json", "report.html", "results.csv", "results.jsonl"}
    lines = parse_jsonl((folder / "results.jsonl").read_text(encoding="utf-8"))
    assert [(x.item_id, x.model_id) for x in lines] == [(d["id"], m) for d in dataset for m in (CLAUDE, NOVA)]
    items = {d["id"]: d for d in dataset}
    for x in lines:
        place = town(items[x.item_id]["article"])
        assert x.evaluation_id == execution.evaluation_id
        assert x.reference == items[x.item_id]["reference"]
        if (x.item_id, x.model_id) == ("item-07", NOVA):
            assert (x.status, x.score_status, x.weighted_score, x.scores, x.answer) == (
                "failed",
                "not judged",
                None,
                {},
                None,
            )
            assert x.error is not None and "too long" in x.error.message
            continue
        assert x.answer == f"{place} in one line, by {x.model_id}.", x
        assert x.weighted_score == (8.0 if x.model_id == CLAUDE else 6.0)
        assert {name: s.reason for name, s in x.scores.items()} == {
            name: f"{name}: judged on {place}" for name in ("accuracy", "completeness", "following-instructions")
        }
        assert x.usage is not None and (x.usage.input_tokens, x.usage.output_tokens) == (200, 20)
        assert x.cost_usd is not None and x.cost_usd > 0 and x.latency_ms is not None
    # and the page carries the same twelve items
    html = (folder / "report.html").read_text(encoding="utf-8")
    block = re.search(r'<script type="application/json" id="tx-data">(.*?)</script>', html, flags=re.DOTALL)
    assert [i["id"] for i in json.loads(block.group(1))["items"]] == list(items)
