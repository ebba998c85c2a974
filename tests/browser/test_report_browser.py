"""The report in real Chromium, opened from disk as a user would open a downloaded report.html.

Every request the page makes is recorded (conftest.py); the only one allowed is the file itself.
A screenshot of each page lands in test-output/ for people to look at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bakeoff.report import IndexRow, Report
from functions.report.render import render_index, render_report

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"
LEADERBOARD_ROWS = "#leaderboard tbody tr"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def rows_in_dom(page: Any) -> list[str]:
    return page.locator(LEADERBOARD_ROWS).evaluate_all("rows => rows.map(r => r.dataset.model)")


def assert_quiet(visit: Any) -> None:
    """Nothing went wrong and nothing left the file: no console error (a CSP violation is one), no
    uncaught exception, no dialog, and no request but the page itself."""
    assert visit.console_errors == []
    assert visit.page_errors == []
    assert visit.dialogs == []
    assert visit.requests == [visit.url]
    assert visit.blocked == []


def test_report_opens_from_disk_quietly_in_leaderboard_order(open_html: Any, output_dir: Path) -> None:
    # Given
    report = load("three_models")
    # When
    visit = open_html(render_report(Report.model_validate(report)))
    page = visit.page
    # Then
    assert_quiet(visit)
    assert rows_in_dom(page) == report["ranking"]
    ranks = page.locator(f"{LEADERBOARD_ROWS} td.rank").all_inner_texts()
    assert ranks == [str(m["rank"]) for m in report["models"]]
    for section in (
        "#verdict",
        "#leaderboard",
        "#charts",
        "#answers",
        "#judge-health",
        "#metrics",
        "#costs",
        "#request",
    ):
        assert page.locator(section).is_visible(), section
    assert page.locator("#charts svg").count() == 3
    assert page.locator("#verdict").inner_text().count("Llama 3 70B Instruct") == 1
    page.screenshot(path=str(output_dir / "report.png"), full_page=True)


def test_failed_and_unscored_models_read_as_such(open_html: Any, output_dir: Path) -> None:
    report = load("unscored_model")
    visit = open_html(render_report(Report.model_validate(report)))
    page = visit.page
    assert_quiet(visit)
    unscored = page.locator('#leaderboard tr[data-status="unscored"]')
    assert unscored.locator("td.score").inner_text() == "unscored"
    assert page.locator('#answers article[data-status="unscored"] .unscored-box').is_visible()
    assert "Judge health check failed" in page.locator("#alerts").inner_text()

    report = load("failed_model")
    visit = open_html(render_report(Report.model_validate(report)), "failed.html")
    assert_quiet(visit)
    error = visit.page.locator('#answers article[data-status="failed"] .error-box').inner_text()
    assert error.startswith("ModelThrottledError") and "ThrottlingException" in error
    assert rows_in_dom(visit.page) == [m["modelId"] for m in report["models"]]
    visit.page.screenshot(path=str(output_dir / "report-failed.png"), full_page=True)


def test_sorting_runs_under_the_csp_and_keeps_blanks_last(open_html: Any) -> None:
    # Given a report with a failed model (no latency) and the inline script admitted by its hash
    report = load("failed_model")
    page = open_html(render_report(Report.model_validate(report))).page
    timed = [m for m in report["models"] if m["latencyMs"] is not None]
    by_latency = sorted(timed, key=lambda m: m["latencyMs"])
    failed = [m["modelId"] for m in report["models"] if m["latencyMs"] is None]
    latency = page.locator("#leaderboard th", has_text="Latency").locator("button")
    # When / Then: ascending, then descending, the model without a latency stays last both ways
    latency.click()
    assert rows_in_dom(page) == [m["modelId"] for m in by_latency] + failed
    latency.click()
    assert rows_in_dom(page) == [m["modelId"] for m in reversed(by_latency)] + failed
    # and sorting by rank restores the report's order
    page.locator("#leaderboard th", has_text="#").locator("button").click()
    assert rows_in_dom(page) == [m["modelId"] for m in report["models"]]


def test_hostile_answer_executes_nothing_and_shows_as_text(open_html: Any, output_dir: Path) -> None:
    # Given answers, names, reasons, evidence, errors and the request full of script, handlers and links
    visit = open_html(render_report(Report.model_validate(load("hostile_output"))), "hostile.html")
    page = visit.page
    column = page.locator('#answers article[data-model="meta.llama3-70b-instruct-v1:0"]')
    # Then loading it ran nothing and fetched nothing
    assert_quiet(visit)
    # nor does reading it: clicking the would-be link, hovering the would-be handlers
    column.locator(".answer-text").click()
    page.locator("#answers .answer-text").nth(1).hover()
    page.locator("#alerts").hover()
    page.wait_for_timeout(200)
    assert_quiet(visit)
    assert page.url == visit.url
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("img, iframe, form, object, embed").count() == 0
    assert page.locator("a[href^='javascript' i], [onerror], [onload], [onmouseover]").count() == 0
    assert page.locator("script").count() == 1
    # and the page shows what the model wrote, character for character
    text = column.locator(".answer-text").inner_text()
    assert "<script>alert(1)</script>" in text
    assert '<img src=x onerror="window.__pwned=1;alert(2)">' in text
    assert '<a href="javascript:alert(3)">click me</a>' in text
    assert page.locator("h1").inner_text() == 'Title <script>alert("title")</script>'
    assert page.locator("body").is_visible()  # the injected <style>body{display:none}</style> is text too
    page.screenshot(path=str(output_dir / "report-hostile.png"), full_page=True)


def test_report_works_with_javascript_off(open_html: Any) -> None:
    report = load("three_models")
    visit = open_html(render_report(Report.model_validate(report)), javascript=False)
    page = visit.page
    assert visit.requests == [visit.url] and visit.console_errors == []
    assert rows_in_dom(page) == report["ranking"]
    assert page.locator("#leaderboard th button").count() == 0  # the sort buttons are JavaScript's own
    assert page.locator("#charts svg rect").count() > 0
    assert page.locator("#answers .answer-text").first.is_visible()


def test_five_long_answers_render_side_by_side(open_html: Any) -> None:
    report = load("five_long_answers")
    visit = open_html(render_report(Report.model_validate(report)))
    assert_quiet(visit)
    columns = visit.page.locator("#answers article.col")
    assert columns.count() == 5
    tops = [box["y"] for box in columns.evaluate_all("cs => cs.map(c => c.getBoundingClientRect().toJSON())")]
    assert len(set(tops)) == 1  # one row of columns, scrolled sideways, not stacked


def test_index_lists_newest_first_and_links_to_each_report(open_html: Any, output_dir: Path) -> None:
    reports = [load(name) for name in ("failed_model", "three_models", "unscored_model")]
    rows = [IndexRow.of(Report.model_validate(r)) for r in reports]
    visit = open_html(render_index(rows), "index.html")
    assert_quiet(visit)
    order = visit.page.locator("#evaluations tbody tr").evaluate_all("rs => rs.map(r => r.dataset.evaluation)")
    assert order == [r["evaluationId"] for r in sorted(reports, key=lambda r: r["createdAt"], reverse=True)]
    # Each row's evaluation cell links to its report (the fixtures are runs of one request, so each row's
    # trend cell also links to all three runs: bakeoff.trend)
    hrefs = visit.page.locator("#evaluations tbody tr td:nth-child(2) a").evaluate_all("as => as.map(a => a.href)")
    base = visit.url.rsplit("/", 1)[0]
    assert hrefs == [f"{base}/{e}/report.html" for e in order]
    trend = visit.page.locator("#evaluations tbody tr td.trend a").evaluate_all("as => as.map(a => a.href)")
    oldest_first = [f"{base}/{e}/report.html" for e in reversed(order)]
    assert trend == oldest_first * 3
    visit.page.screenshot(path=str(output_dir / "index.png"), full_page=True)
