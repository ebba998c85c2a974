"""The dataset transcripts' page data (transcripts_view.py) and the results.jsonl line (bakeoff.item_results),
without S3: the JSON block cannot be ended by what it carries, long texts are cut on the page only, and a
line reads back into its model."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from bakeoff.item_results import ItemResult, dump_jsonl, parse_jsonl
from bakeoff.models import CriterionScore, Usage
from bakeoff.report import ErrorNote, Report
from functions.report.transcripts import ItemTranscript
from functions.report.transcripts_view import SHOWN_CHARS, script_json, transcripts_view
from tests.unit.test_report_render import load

TRICKS = "</script><script>alert(1)</script> <!-- <SCRIPT> </Script > & \u2028 \u2029 \u0085 ]]>"


def line(**changes) -> ItemResult:
    fields = {
        "evaluation_id": "ev",
        "item_id": "i1",
        "model_id": "m",
        "status": "ok",
        "score_status": "scored",
        "answer": "An answer.",
        "usage": Usage(input_tokens=10, output_tokens=5),
        "cost_usd": 0.001,
        "latency_ms": 120,
        "weighted_score": 7.5,
        "scores": {"accuracy": CriterionScore(score=8, reason="Right.")},
        "judge_cost_usd": 0.0002,
    }
    return ItemResult(**(fields | changes))


def test_script_json_holds_no_character_that_could_end_or_open_a_script_block() -> None:
    text = str(script_json({"answer": TRICKS, "list": [TRICKS]}))
    assert re.search(r"[<>&\u2028\u2029]", text) is None
    # and reads back as the very same text
    assert json.loads(text) == {"answer": TRICKS, "list": [TRICKS]}


def test_a_line_dumps_to_one_json_line_and_reads_back_unchanged() -> None:
    lines = [line(answer="two\nlines " + TRICKS)]
    lines.append(
        line(
            item_id="i2",
            status="failed",
            score_status="not judged",
            answer=None,
            usage=None,
            cost_usd=None,
            latency_ms=None,
            weighted_score=None,
            scores={},
            error=ErrorNote(error="ModelThrottledError", message="slow down"),
        )
    )
    text = dump_jsonl(lines)
    assert text.count("\n") == 2 and text.endswith("\n")
    assert len(text.splitlines()) == 2  # no character in an answer reads as a line end
    assert parse_jsonl(text) == lines
    failed = json.loads(text.splitlines()[1])
    # the keys a reader relies on are there even when null
    assert failed["weightedScore"] is None and failed["answer"] is None and failed["scores"] == {}
    assert "reference" not in failed


def test_a_line_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="answr"):
        ItemResult.model_validate(line().dump() | {"answr": "typo"})


def test_the_page_cuts_long_answers_and_references_and_says_by_how_much() -> None:
    report = load("three_models")
    report["dataset"] = {
        "items": 1,
        "modelIds": ["m"],
        "itemsWithoutScores": 0,
        "statistics": {},
        "sentences": [],
        "perItem": [],
        "perItemTruncated": False,
        "rows": [],
    }
    long = "x" * (SHOWN_CHARS + 25)
    item = ItemTranscript(
        item_id="i1", excerpt="Opening.", article_chars=900, reference=long, results=[line(answer=long)]
    )
    view = transcripts_view(Report.model_validate(report), [item])
    assert view is not None and (view["shown"], view["total"], view["lines"]) == (1, 1, 1)
    data = json.loads(str(view["json"]))
    shown = data["items"][0]
    assert shown["more"] == 900 - len("Opening.")
    assert (len(shown["reference"]), shown["referenceCut"]) == (SHOWN_CHARS, 25)
    result = shown["results"]["m"]
    assert (len(result["answer"]), result["cut"]) == (SHOWN_CHARS, 25)
    assert result["scores"][0] == [8, "Right."] and result["status"] == "scored"
    # A single-article report has no transcripts, whatever is passed
    assert transcripts_view(Report.model_validate(load("three_models")), [item]) is None
