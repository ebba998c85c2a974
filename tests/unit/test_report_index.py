"""The reports index: display names in the Winner column, runs whose judge health failed marked, and the
runs of one request shown as a trend (bakeoff.trend), from rows as index_row writes them."""

from __future__ import annotations

import copy
import json

from bakeoff.report import IndexRow, ReportHeadline
from bakeoff.trend import request_key
from functions.report.render import render_index
from tests.unit.test_report_render import Page, load


def index_row(report: dict) -> IndexRow:
    """The row the report step writes for a report.json (read as the offline index reads it)."""
    return IndexRow.of(ReportHeadline.model_validate(report))


def rerun(report: dict, evaluation_id: str, created_at: str, winner_score: float, *, healthy: bool = True) -> dict:
    again = copy.deepcopy(report) | {"evaluationId": evaluation_id, "createdAt": created_at}
    again["models"][0]["weightedScore"] = winner_score
    again["judgeHealth"] = again["judgeHealth"] | {"controlPassed": healthy}
    return again


def test_the_index_names_winners_marks_unhealthy_judges_and_shows_reruns_as_a_trend():
    # Given a request run three times (the last with a judge that failed its health check) and another request
    first = load("three_models")
    runs = [
        rerun(first, "20261201T090000Z-00000001", "2026-12-01T09:00:00+00:00", 8.5),
        rerun(first | {"title": "renamed, same work"}, "20261202T090000Z-00000002", "2026-12-02T09:00:00+00:00", 8.1),
        rerun(first, "20261203T090000Z-00000003", "2026-12-03T09:00:00+00:00", 6.4, healthy=False),
    ]
    other = load("failed_model")
    other["request"]["prompt"] += " Keep it short."  # another request (the fixtures share one)
    rows = [index_row(r) for r in (*runs, other)]

    page = Page(render_index(rows))
    lines = {a["data-evaluation"]: a for a in page.all("tr") if "data-evaluation" in a}
    text = page.text("evaluations")

    # Then the Winner column shows the display name, not the model ID
    winner = first["models"][0]
    assert rows[0].winner_name == winner["name"] != winner["modelId"]
    assert f"{winner['name']} 3 0" in text and f"{winner['modelId']} 3 0" not in text
    # The run whose judge health failed is marked, the others are not
    assert text.count("judge health failed") == 1
    assert [a["title"] for a in page.all("span") if "judge-unhealthy" in a.get("class", "")][0].startswith(
        "the judge did not score"
    )
    # The reruns (a new title is the same work) list every run oldest first; the other request has no trend
    assert rows[0].request_key == rows[1].request_key == request_key(first["request"]) is not None
    assert rows[3].request_key != rows[0].request_key
    assert text.count("8.50 → 8.10 → 6.40* winner's weighted score, 3 runs, oldest first") == 3
    trend_links = [a["href"] for a in page.all("a") if a.get("title", "").startswith("2026120")]
    assert trend_links[:3] == [f"./{r['evaluationId']}/report.html" for r in runs]
    assert [a for a in page.all("a") if a.get("aria-current") == "true"][0][
        "href"
    ] == f"./{runs[2]['evaluationId']}/report.html"  # the newest row's own run, first in the table
    assert set(lines) == {r["evaluationId"] for r in (*runs, other)}


def test_index_rows_written_before_these_fields_still_render():
    old = {
        "evaluationId": "20261101T000000Z-0000000a",
        "createdAt": "2026-11-01T00:00:00+00:00",
        "title": "t",
        "winner": "amazon.nova-lite-v1:0",
        "totalCostUsd": 0.01,
        "models": 2,
        "failed": 0,
        "status": "ok",
    }
    rows = [IndexRow.model_validate(old), IndexRow.model_validate(old | {"evaluationId": "20261102T000000Z-0000000b"})]
    text = Page(render_index(rows)).text("evaluations")
    assert "amazon.nova-lite-v1:0" in text and "runs, oldest first" not in text and "judge health" not in text


def test_the_offline_index_links_each_rerun_to_its_compare_page(tmp_path):
    from bakeoff_offline.reports import write_index

    # Given three runs of one request in out/, the last with the winner scored lower on its one item
    first = load("three_models")
    runs = [
        rerun(first, "20261201T090000Z-00000001", "2026-12-01T09:00:00+00:00", 8.5),
        rerun(first, "20261202T090000Z-00000002", "2026-12-02T09:00:00+00:00", 8.5),
        rerun(first, "20261203T090000Z-00000003", "2026-12-03T09:00:00+00:00", 6.4, healthy=False),
    ]
    for report in runs:
        folder = tmp_path / report["evaluationId"]
        folder.mkdir()
        (folder / "report.json").write_text(json.dumps(report))

    index = write_index(tmp_path)

    # Then each run after the first has a compare page with the run before it, linked from the trend
    pages = sorted(p.name for p in (tmp_path / "compare").iterdir())
    assert pages == [
        f"{runs[0]['evaluationId']}..{runs[1]['evaluationId']}.html",
        f"{runs[1]['evaluationId']}..{runs[2]['evaluationId']}.html",
    ]
    links = {a["href"] for a in Page(index.read_text()).all("a") if a.get("href", "").startswith("./compare/")}
    assert links == {f"./compare/{name}" for name in pages}
    same = Page((tmp_path / "compare" / pages[0]).read_text())
    assert same.text("verdict").strip() == "No significant change."
    changed = Page((tmp_path / "compare" / pages[1]).read_text())
    winner = first["models"][0]
    row = next(
        a
        for a in changed.all("tr")
        if a.get("data-model") == winner["modelId"] and a.get("data-criterion") == "weighted"
    )
    assert row  # the winner's weighted change is listed
    text = changed.text("changes")
    assert (
        f"{winner['name']} {winner['modelId']} weighted 8.50 6.40 -2.10 1 0 / 1 – – not testable (1 shared item)"
        in " ".join(text.split())
    )
    assert "the after run's judge health check failed" in (tmp_path / "compare" / pages[1]).read_text()
    assert changed.all("script") == []
