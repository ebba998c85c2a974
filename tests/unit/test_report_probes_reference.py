"""The report's probe rows (judge health) and its reference-answer section, for one article and for a
dataset, rendered from the three_models fixture with the fields the score step adds."""

from __future__ import annotations

import copy
from typing import Any

from bakeoff.report import Report
from functions.report.render import render_report as render_model
from tests.unit.test_report_render import Page, load, section

HAIKU, LLAMA = "anthropic.claude-3-haiku-20240307-v1:0", "meta.llama3-70b-instruct-v1:0"
PROBES = {
    "kinds": ["number", "negation"],
    "modelId": HAIKU,
    "results": {
        "number": {"passed": True, "applicable": True, "change": "7 → 3", "originalScore": 8.5, "probeScore": 2.0},
        "negation": {
            "passed": False,
            "applicable": True,
            "change": "“replace” → “keep”",
            "originalScore": 8.5,
            "probeScore": 8.5,
        },
    },
    "caught": ["number"],
    "missed": ["negation"],
    "inconclusive": [],
    "summary": "the judge misses negations (an outcome turned into its opposite)",
}
REFERENCE = "The council voted 7 to 2 for an electric ferry. <script>alert('ref')</script>"


def render_report(report: dict[str, Any]) -> str:
    """The page of a report.json document, read through the model as the report step holds it."""
    return render_model(Report.model_validate(report))


def with_probes_and_reference() -> dict[str, Any]:
    report = copy.deepcopy(load("three_models"))
    report["judgeHealth"]["probes"] = PROBES
    report["reference"] = REFERENCE
    for m in report["models"]:
        if m.get("metrics"):
            m["metrics"]["reference"] = (
                {"rougeL": 0.41, "tokenF1": 0.52} if m["modelId"] == HAIKU else {"rougeL": 0.2, "tokenF1": None}
            )
    return report


def test_missed_probes_are_named_in_judge_health_beside_the_flip_rate() -> None:
    page = Page(render_report(with_probes_and_reference()))
    health = page.text("judge-health")
    assert "Probes 1 of 2 kinds missed fail The judge misses negations (an outcome turned into its opposite)." in health
    assert "Probe: a number changed original 8.50 vs probe 2.00 pass" in health
    assert "Probe: the outcome negated original 8.50 vs probe 8.50 fail" in health
    assert "It did not: the judge misses negations" in health
    assert health.index("Position flips") < health.index("Probes") < health.index("Length bias")
    assert "Probes, Probe: the outcome negated" in page.text("alerts")


def test_without_probes_there_is_no_probe_row() -> None:
    health = Page(render_report(load("three_models"))).text("judge-health")
    assert "Probe" not in health


def test_the_reference_answer_is_shown_as_text_with_each_answers_closeness() -> None:
    html = render_report(with_probes_and_reference())
    page = Page(html)
    reference = page.text("reference")
    assert "The council voted 7 to 2 for an electric ferry." in reference
    assert "&lt;script&gt;alert(&#39;ref&#39;)&lt;/script&gt;" in section(html, "reference")
    assert "Claude 3 Haiku 0.410 0.520" in reference
    assert "Llama 3 70B Instruct 0.200 –" in reference  # a missing figure is a dash, never 0


def test_without_a_reference_there_is_no_reference_section() -> None:
    assert "reference" not in Page(render_report(load("three_models"))).ids()


def test_a_dataset_shows_catch_rates_and_each_items_reference() -> None:
    report = copy.deepcopy(load("three_models"))
    report["judgeHealth"]["probes"] = {
        "kinds": ["negation"],
        "results": {"negation": {"caught": 7, "missed": 3, "inconclusive": 0, "catchRate": 0.7, "passed": False}},
        "caught": [],
        "missed": ["negation"],
        "inconclusive": [],
        "summary": "the judge misses negations (an outcome turned into its opposite)",
    }
    report["dataset"] = {
        "items": 3,
        "modelIds": [HAIKU],
        "itemsWithoutScores": 0,
        "sentences": [],
        "statistics": {"models": {}, "winRates": []},
        "perItemTruncated": False,
        "itemsWithReference": 2,
        "rows": [],
        "perItem": [
            {"itemId": "a", "scores": {}, "reference": "Reference of a."},
            {"itemId": "b", "scores": {}},
            {"itemId": "c", "scores": {}, "reference": "Reference of c."},
        ],
    }
    next(m for m in report["models"] if m["modelId"] == HAIKU)["referenceMetrics"] = {
        "rougeL": 0.3,
        "tokenF1": 0.4,
        "items": 2,
    }
    page = Page(render_report(report))
    assert "Probe: the outcome negated caught on 7 of 10 items (70%) fail" in page.text("judge-health")
    assert "On 3 item(s) it did not: the judge misses negations" in page.text("judge-health")
    reference = page.text("reference")
    assert "2 of 3 items came with a reference answer" in reference
    assert "Claude 3 Haiku 0.300 0.400 2" in reference
    assert "a Reference of a." in reference and "c Reference of c." in reference
