"""A 200-item dataset report's transcripts in real Chromium: every item opens onto each model's answer
and the judge's reasons, and each filter (model, disagreement, score range, search) leaves exactly the
items it should.

The report is the report step's own output (``write_report`` under moto) over a dataset written as the
earlier states write it (tests/support/dataset_bucket.py); the verdicts are chosen so that each filter
has a known answer: by default Claude scores 7, Nova 6 and Mistral 5 on every criterion of every item.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bakeoff.models import ReportInput
from bakeoff.storage import Store
from functions.report.build import write_report
from tests.browser.test_report_browser import assert_quiet
from tests.support.dataset_bucket import Item, Outcome, default_answer, default_reason

pytestmark = pytest.mark.browser

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-lite-v1:0"
MISTRAL = "mistral.mistral-large-2402-v1:0"
MODELS = [CLAUDE, NOVA, MISTRAL]
HOSTILE = 'Done.</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> pwned?'
REFERENCE = "Town 10 approved the ferry by 7 votes to 2."
ROWS = "#tx-list details.tx-item"
ITEMS = 200


def article(n: int) -> str:
    text = (
        f"[FICTIONAL] The council of Town {n} voted 7 to 2 on Tuesday to approve a new electric ferry for the "
        f"island, ending a three-year debate about how the {n} residents of the ward reach the mainland."
    )
    if n == 188:
        text += " The old lighthouse will be kept as a museum."
    if n == 1:
        text += " The budget, the timetable and the crew were discussed at length." * 12  # past the excerpt
    return text


def outcomes(n: int) -> dict[str, Outcome]:
    """Claude 7, Nova 6, Mistral 5 except on the items each filter is meant to find."""
    claude, nova, mistral = Outcome(score=7), Outcome(score=6), Outcome(score=5)
    special = {
        7: {NOVA: Outcome(kind="failed")},
        13: {CLAUDE: Outcome(kind="unscored")},
        21: {CLAUDE: Outcome(score=9), NOVA: Outcome(score=4)},  # Claude ahead by 5
        42: {NOVA: Outcome(score=4)},  # Claude ahead by 3
        55: {CLAUDE: Outcome(score=5), NOVA: Outcome(score=8)},  # the order flips, by 3
        99: {CLAUDE: Outcome(score=6), NOVA: Outcome(score=7)},  # the order flips, by 1
        150: {MISTRAL: Outcome(score=10)},
        180: {MISTRAL: Outcome(score=2)},
        123: {NOVA: Outcome(score=6, answer="The council chose a ferry over a zeppelin service.")},
        77: {CLAUDE: Outcome(score=7, reason="Mentions a Zeppelin the article never does.")},
        66: {MISTRAL: Outcome(score=5, answer=HOSTILE)},
    }.get(n, {})
    return {CLAUDE: claude, NOVA: nova, MISTRAL: mistral} | special


def item_id(n: int) -> str:
    return f"item-{n:03d}"


@pytest.fixture(scope="module")
def report_html() -> Iterator[str]:
    """The report step's report.html for the 200-item dataset."""
    from tests.support.dataset_bucket import write_dataset_run

    items = [
        Item(item_id(n), article(n), outcomes(n), reference=REFERENCE if n == 10 else None) for n in range(1, ITEMS + 1)
    ]
    with pytest.MonkeyPatch.context() as env, mock_aws():
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        s3 = boto3.client("s3", aws_access_key_id="k", aws_secret_access_key="s")
        s3.create_bucket(Bucket="bakeoff-transcripts")
        store = Store(s3, "bakeoff-transcripts")
        write_dataset_run(store, "ds-200", MODELS, items)
        write_report(ReportInput(evaluation_id="ds-200", mode="dataset"), store=store, prefix="reports/")
        yield store.get_bytes("reports/ds-200/report.html").decode()


def shown(page: Any) -> list[str]:
    return page.locator(ROWS).evaluate_all("ds => ds.map(d => d.dataset.item)")


def matching(page: Any) -> int:
    return int(page.locator("#tx-count").get_attribute("data-matching"))


def open_item(page: Any, item: str) -> Any:
    row = page.locator(f'{ROWS}[data-item="{item}"]')
    row.locator("summary").click()
    row.locator(".tx-body").wait_for()  # drawn on the details' toggle event, which comes a task later
    return row


def ids(*numbers: int) -> list[str]:
    return [item_id(n) for n in numbers]


def test_the_first_page_of_items_is_drawn_and_nothing_more_until_opened(open_html: Any, report_html: str) -> None:
    visit = open_html(report_html)
    page = visit.page
    assert_quiet(visit)
    assert page.locator("#tx-count").inner_text() == "All 200 items · showing 1–50"
    assert shown(page) == ids(*range(1, 51))
    assert page.locator("#tx-list .tx-body").count() == 0  # answers are drawn on opening
    # Each row's summary shows every model's score (item-007: Nova failed; item-013: Claude unscored)
    chips = page.locator(f'{ROWS}[data-item="item-007"] .tx-chip').all_inner_texts()
    assert chips == ["7.00", "failed", "5.00"]
    assert page.locator(f'{ROWS}[data-item="item-013"] .tx-chip').all_inner_texts() == ["unscored", "6.00", "5.00"]
    # The pager walks the pages
    page.locator("#tx-next").click()
    assert shown(page) == ids(*range(51, 101))
    page.locator("#tx-next").click()
    page.locator("#tx-next").click()
    assert shown(page) == ids(*range(151, 201)) and page.locator("#tx-next").is_disabled()
    assert page.locator("#tx-page").inner_text() == "page 4 of 4"
    assert page.locator("#results-jsonl").get_attribute("href") == "results.jsonl"
    assert_quiet(visit)


def expected_card(item: str, model_id: str) -> dict[str, Any]:
    """What an opened item shows for one model: its answer, the judge's reasons, or why there are none."""
    outcome = outcomes(int(item.removeprefix("item-")))[model_id]
    if outcome.kind == "failed":
        return {"model": model_id, "status": "failed", "answer": None, "reasons": [], "points": [], "box": "error"}
    answer = outcome.answer if outcome.answer is not None else default_answer(item, model_id)
    if outcome.kind == "unscored":
        return {"model": model_id, "status": "unscored", "answer": answer, "reasons": [], "points": [], "box": "note"}
    criteria = ("accuracy", "completeness", "following-instructions")
    return {
        "model": model_id,
        "status": "scored",
        "answer": answer,
        "reasons": [outcome.reason or default_reason(item, model_id, c) for c in criteria],
        "points": [f"{outcome.score}/10"] * 3,
        "box": None,
    }


# Each opened item's cards as the reader sees them: only what is visible counts.
READ_CARDS = """rows => rows.map(row => [row.dataset.item, Array.from(row.querySelectorAll(".tx-answer")).map(card => {
  const seen = sel => Array.from(card.querySelectorAll(sel)).filter(e => e.checkVisibility()).map(e => e.innerText);
  const answer = seen(".answer-text");
  return {model: card.dataset.model, status: card.dataset.status, answer: answer.length ? answer[0] : null,
          reasons: seen("dl.reasons dd"), points: seen("dl.reasons dt .pts"),
          box: seen(".error-box").length ? "error" : (seen(".unscored-box").length ? "note" : null)};
})])"""


def test_every_item_opens_onto_each_models_answer_and_the_judges_reasons(
    open_html: Any, report_html: str, output_dir: Path
) -> None:
    visit = open_html(report_html)
    page = visit.page
    for page_number in range(4):
        if page_number:
            page.locator("#tx-next").click()
        for item in shown(page):
            open_item(page, item)
        assert page.locator("#tx-list .tx-body").count() == 50
        opened = page.locator(ROWS).evaluate_all(READ_CARDS)
        first = page_number * 50 + 1
        assert [item for item, _cards in opened] == ids(*range(first, first + 50))
        for item, cards in opened:
            assert cards == [expected_card(item, m) for m in MODELS], item
    assert_quiet(visit)
    page.locator("#tx-reset").click()
    error = open_item(page, "item-007").locator(f'.tx-answer[data-model="{NOVA}"] .error-box').inner_text()
    assert error == "ModelThrottledError: Too many requests, please wait."
    # The item with a reference shows it, and the long article is cut to its opening
    page.locator("#tx-reset").click()
    row = open_item(page, "item-010")
    assert row.locator(".tx-reference").inner_text() == REFERENCE
    first = open_item(page, "item-001").locator("blockquote").first.inner_text()
    assert first.endswith(" …") and len(first) < len(article(1))
    page.screenshot(path=str(output_dir / "report-transcripts.png"), full_page=False)


def test_the_model_filter_shows_one_models_answers_and_narrows_score_and_search_to_it(
    open_html: Any, report_html: str
) -> None:
    page = open_html(report_html).page
    page.select_option("#tx-model", MISTRAL)
    assert matching(page) == ITEMS and shown(page) == ids(*range(1, 51))
    assert page.locator(f"{ROWS} .tx-chip").count() == 50  # one score per row: Mistral's
    row = open_item(page, "item-010")
    assert row.locator(".tx-answer").evaluate_all("cs => cs.map(c => c.dataset.model)") == [MISTRAL]
    # The score range looks at Mistral only: its 10 on item-150, not Claude's 9 on item-021
    page.fill("#tx-min", "9")
    assert shown(page) == ids(150)
    page.select_option("#tx-model", CLAUDE)
    assert shown(page) == ids(21)
    # and so does the search: Claude's reason on item-077 mentions a zeppelin, Nova's answer on item-123
    page.fill("#tx-min", "0")
    page.fill("#tx-q", "zeppelin")
    assert shown(page) == ids(77)
    page.select_option("#tx-model", NOVA)
    assert shown(page) == ids(123)


def test_the_disagreement_filter_finds_the_gaps_and_the_flips(open_html: Any, report_html: str) -> None:
    page = open_html(report_html).page
    page.select_option("#tx-a", CLAUDE)
    page.select_option("#tx-b", NOVA)
    # Gap 2 or a flip (Claude leads overall; Nova beat it on item-055 and item-099). Items where either
    # was not scored (item-007, item-013) cannot disagree.
    assert page.locator("#tx-gap").input_value() == "2"
    assert shown(page) == ids(21, 42, 55, 99)
    assert page.locator("#tx-count").inner_text() == "4 of 200 items match"
    page.uncheck("#tx-flip")
    assert shown(page) == ids(21, 42, 55)
    page.fill("#tx-gap", "4")
    assert shown(page) == ids(21)
    # The pair the other way round finds the same items
    page.check("#tx-flip")
    page.fill("#tx-gap", "2")
    page.select_option("#tx-a", NOVA)
    page.select_option("#tx-b", CLAUDE)
    assert shown(page) == ids(21, 42, 55, 99)
    # A model against itself is no filter
    page.select_option("#tx-b", NOVA)
    assert matching(page) == ITEMS


def test_the_score_range_and_the_search_over_every_model(open_html: Any, report_html: str) -> None:
    visit = open_html(report_html)
    page = visit.page
    page.fill("#tx-min", "9")
    assert shown(page) == ids(21, 150)
    page.fill("#tx-min", "0")
    page.fill("#tx-max", "3")
    assert shown(page) == ids(180)
    page.fill("#tx-max", "10")
    assert matching(page) == ITEMS
    page.fill("#tx-q", "ZEPPELIN")  # any case; answers and reasons
    assert shown(page) == ids(77, 123)
    page.fill("#tx-q", "lighthouse")  # the article's excerpt
    assert shown(page) == ids(188)
    page.fill("#tx-q", "item-19")  # the item ID
    assert shown(page) == ids(*range(190, 200))
    page.fill("#tx-q", "no item says this")
    assert shown(page) == [] and page.locator("#tx-count").inner_text() == "0 of 200 items match"
    # A hostile answer is found as text and shown as text: nothing runs
    page.fill("#tx-q", "</script>")
    assert shown(page) == ids(66)
    row = open_item(page, "item-066")
    assert row.locator(f'.tx-answer[data-model="{MISTRAL}"] .answer-text').inner_text() == HOSTILE
    page.wait_for_timeout(100)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#transcripts img").count() == 0
    assert_quiet(visit)
    page.locator("#tx-reset").click()
    assert matching(page) == ITEMS and page.locator("#tx-q").input_value() == ""


def test_without_javascript_the_page_says_where_the_transcripts_are(open_html: Any, report_html: str) -> None:
    page = open_html(report_html, javascript=False).page
    assert page.locator("#tx-controls").is_hidden()
    assert page.locator(ROWS).count() == 0
    assert "results.jsonl hold them all" in page.locator("#transcripts").inner_text()
