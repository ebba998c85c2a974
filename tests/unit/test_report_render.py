"""report.html, reports/index.html and results.csv rendered from hand-made report.json fixtures.

The fixtures in tests/fixtures/reports/ cover: three scored models with every optional field the judge
and cost work adds (three_models), today's core schema with one failed model (failed_model), an
unscored answer with a failed control check (unscored_model), five 2,000-word answers (the size
budget) and hostile text in every field a model or judge can influence (hostile_output).
"""

from __future__ import annotations

import base64
import copy
import csv
import hashlib
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bakeoff.report import IndexRow, Report
from functions.report.formats import num, seconds, usd
from functions.report.render import render_index, render_report
from functions.report.results_csv import csv_columns, render_csv

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"
FIXTURE_NAMES = ["three_models", "failed_model", "unscored_model", "five_long_answers", "hostile_output"]


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def render(report: dict[str, Any]) -> str:
    """report.html of a (possibly edited) fixture, read through the model as the report step does."""
    return render_report(Report.model_validate(report))


class Page(HTMLParser):
    """The parsed page: every element with its attributes, the text inside each ``id``'d element,
    and the raw text of ``<script>`` and ``<style>`` elements."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "source", "area", "base", "col", "embed", "wbr"}
    # Text in separate blocks or cells reads as separate words, as a browser lays it out.
    BLOCKS = {
        "p",
        "div",
        "dt",
        "dd",
        "li",
        "td",
        "th",
        "tr",
        "br",
        "h1",
        "h2",
        "h3",
        "pre",
        "blockquote",
        "summary",
        "details",
        "figcaption",
        "figure",
        "section",
        "header",
        "article",
        "ul",
        "dl",
    }

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._stack: list[tuple[str, str | None]] = []
        self._texts: dict[str, list[str]] = {}
        self._raw: list[str] | None = None
        self.feed(html)
        self.close()

    def _gap(self, tag: str) -> None:
        if tag in self.BLOCKS:
            for _, element_id in self._stack:
                if element_id:
                    self._texts[element_id].append(" ")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self._gap(tag)
        self.elements.append((tag, attributes))
        if tag in ("script", "style"):
            self._raw = []
        if tag not in self.VOID:
            self._stack.append((tag, attributes.get("id")))
            if attributes.get("id"):
                self._texts.setdefault(attributes["id"], [])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        self._gap(tag)
        if tag in ("script", "style") and self._raw is not None:
            (self.scripts if tag == "script" else self.styles).append("".join(self._raw))
            self._raw = None
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if self._raw is not None:
            self._raw.append(data)
            return
        for _, element_id in self._stack:
            if element_id:
                self._texts[element_id].append(data)

    def text(self, element_id: str) -> str:
        return re.sub(r"\s+", " ", "".join(self._texts[element_id])).strip()

    def ids(self) -> set[str]:
        return set(self._texts)

    def all(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def section(html: str, element_id: str) -> str:
    """The markup from the element with this id up to the next ``<section`` (or the end)."""
    start = html.index(f'id="{element_id}"')
    end = html.find("<section", start + 1)
    return html[start : end if end != -1 else len(html)]


def leaderboard_rows(html: str) -> list[str]:
    body = section(html, "leaderboard")
    body = body[body.index("<tbody>") : body.index("</tbody>")]
    return re.findall(r'<tr data-model="([^"]+)"', body)


def answer_column(html: str, model_id: str) -> str:
    start = html.index(f'<article class="col" data-model="{model_id}"')
    return html[start : html.index("</article>", start)]


# --- every section, every fixture -------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_fixture_renders_every_section(name: str) -> None:
    # Given / When
    page = Page(render(load(name)))
    # Then
    for element_id in (
        "summary",
        "verdict",
        "leaderboard",
        "charts",
        "answers",
        "judge-health",
        "metrics",
        "costs",
        "request",
    ):
        assert element_id in page.ids(), element_id


def test_header_gives_the_run_at_a_glance() -> None:
    report = load("three_models")
    page = Page(render(report))
    summary = page.text("summary")
    assert report["evaluationId"] in summary
    assert "1 Dec 2026, 09:00 UTC" in summary
    assert report["prompt"] in summary
    for criterion in report["criteria"]:
        assert f"{criterion['name']} weight {criterion['weight']}" in summary
    for judge in report["judgeModelIds"]:
        assert judge in summary
    assert "Total cost $0.00882" in summary
    assert "Wall time 1 min 07 s" in summary
    assert "Leads, tied within judge noise Llama 3 70B Instruct" in page.text("verdict")
    assert report["notices"][0] in page.text("alerts")


def test_leaderboard_follows_the_report_order_with_ranks_scores_and_costs() -> None:
    report = load("three_models")
    html = render(report)
    assert leaderboard_rows(html) == [m["modelId"] for m in report["models"]] == report["ranking"]
    board = Page(html).text("leaderboard")
    assert (
        "1 Llama 3 70B Instruct ≈ tie meta.llama3-70b-instruct-v1:0 tied with Claude 3 Haiku 8.50 9 8 8 "
        "$0.00123 1,214 178 2.9 s scored" in board
    )
    assert "3 Mistral Large (24.02) mistral.mistral-large-2402-v1:0 4.10 2 6 6 $0.00213 1,343 96 4.4 s" in board
    assert "Total (answers) $0.00389 3,938 425" in board


def test_ties_are_marked_only_on_tied_models() -> None:
    html = render(load("three_models"))
    board = section(html, "leaderboard")
    assert board.count('<span class="badge b-tie"') == 3  # two rows + the legend line
    assert "tied with Claude 3 Haiku" in board and "tied with Llama 3 70B Instruct" in board
    mistral_row = board[board.index('data-model="mistral.') :]
    assert "b-tie" not in mistral_row[: mistral_row.index("</tr>")]


# --- failed and unscored --------------------------------------------------------------------


def test_failed_model_shows_its_error_and_is_not_ranked() -> None:
    # Given today's core schema, one model throttled to failure
    report = load("failed_model")
    failed = next(m for m in report["models"] if m["status"] == "failed")
    # When
    html = render(report)
    page = Page(html)
    # Then the banner says so, the column shows the error, and no score stands in for it
    assert "1 of 3 models failed: Claude 3 Haiku." in page.text("alerts")
    column = answer_column(html, failed["modelId"])
    assert "ModelThrottledError" in column and "after 4 attempts: ThrottlingException" in column
    assert "/10" not in column
    board = section(html, "leaderboard")
    row = board[board.index(f'data-model="{failed["modelId"]}"') :]
    row = row[: row.index("</tr>")]
    assert 'data-status="failed"' in row and ">failed</span>" in row
    assert '<td class="n rank" data-v="">–</td>' in row


def test_unscored_answer_is_shown_as_unscored_never_as_zero() -> None:
    report = load("unscored_model")
    model = next(m for m in report["models"] if m["scoreStatus"] == "unscored")
    html = render(report)
    board = section(html, "leaderboard")
    row = board[board.index(f'data-model="{model["modelId"]}"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="n score" data-v=""><span class="badge b-unscored">unscored</span></td>' in row
    assert re.search(r">\s*0(\.0+)?\s*<", row) is None
    column = answer_column(html, model["modelId"])
    assert "Unscored." in column and "failed validation twice" in column
    assert "the judge's raw reply" in column and "&#34;score&#34;: 11" in column
    assert "The judge could not score 1 answer: Mistral Large (24.02)" in Page(html).text("alerts")
    # and it is absent from the charts of scores rather than drawn at 0
    assert f'data-model="{model["modelId"]}"' not in section(html, "chart-criteria").split("chart-value")[0]


def test_failed_judge_health_check_raises_a_plain_warning() -> None:
    page = Page(render(load("unscored_model")))
    assert "Judge health check failed: Control answer." in page.text("alerts")
    health = page.text("judge-health")
    assert "Control answer original 8.50 vs corrupted 9.00 fail" in health
    assert "Unscored answers 33% (1 of 3) warn" in health


def test_no_scored_model_says_so_instead_of_crowning_one() -> None:
    report = load("failed_model")
    for m in report["models"]:
        m.update(
            status="failed",
            scoreStatus="not judged",
            weightedScore=None,
            scores={},
            output=None,
            error={"error": "ModelTimeoutError", "message": "no answer within 60 s"},
        )
        m.pop("rank", None)
    page = Page(render(report))
    assert "No model could be ranked" in page.text("verdict")
    assert "No answer was scored" in page.text("charts")


# --- the figures the judge and cost work add --------------------------------------------------


def test_judge_health_panel_shows_every_measure() -> None:
    health = Page(render(load("three_models"))).text("judge-health")
    for expected in (
        "Unscored answers 0% (0 of 3) pass",
        "Control answer original 8.50 vs corrupted 3.10 pass",
        "Judge panel agreement mean |Δ| 0.40 points, Spearman 1.00, Kendall 1.00 pass",
        "Position flips 17% of 6 pairs pass",
        "preferred 58% of the time",
        "Length bias Pearson r 0.62 over 3 answers pass",
        "Judge noise ±0.40 points info",
        "measured as the panel's disagreement",
        "Llama 3 70B Instruct 8.50 8.20",  # score per judge
        "Mistral Large (24.02) 2.50 6.00 6.50",  # per-criterion mean
        "Judges' mean |Δ| 0.33 0.33 0.67",
        "Claude 3 Haiku 2",
    ):  # pairwise wins
        assert expected in health, expected


def test_deterministic_metrics_and_unsupported_facts_are_shown() -> None:
    html = render(load("three_models"))
    metrics = Page(html).text("metrics")
    assert "Mistral Large (24.02) 52 16.35 0.081 3 2" in metrics
    column = answer_column(html, "mistral.mistral-large-2402-v1:0")
    assert all(f'<span class="chip">{x}</span>' in column for x in ("8 to 1", "35 million", "Alex"))


def test_estimated_vs_actual_and_bedrock_equivalent() -> None:
    costs = Page(render(load("three_models"))).text("costs")
    assert "Llama 3 70B Instruct 1,210 1,214 +0% 1,024 178 $0.00679 $0.00123" in costs
    assert "Judging (4 calls estimated) 11,820 – 2,240 – $0.0166 $0.00492" in costs
    assert "Total $0.0427 $0.00882" in costs
    assert "Amazon Nova Micro amazon.nova-micro-v1:0 $0.00021" in costs
    assert "Claude 3.5 Sonnet v2" in costs


def test_estimates_fall_back_to_the_estimate_lines_and_optional_sections_degrade() -> None:
    # Given today's core schema: no per-model estimate, metrics, panel, control, bedrockEquivalent
    page = Page(render(load("failed_model")))
    assert "Llama 3 70B Instruct 1,210 1,214 +0%" in page.text("costs")
    assert "Not computed for this run." in page.text("metrics")
    assert "bedrock-equivalent" not in page.ids()
    assert page.text("judge-health").count(" pass ") == 1  # only the unscored rate was measured
    assert "Wall time ≈ 41 s (from request to report)" in page.text("summary")


# --- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "–"),
        (0, "$0.00"),
        (0.00123, "$0.00123"),
        (0.0427, "$0.0427"),
        (0.5, "$0.50"),
        (0.000225, "$0.000225"),
        (1, "$1.00"),
        (1234.5, "$1,234.50"),
    ],
)
def test_usd(value: float | None, text: str) -> None:
    assert usd(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "–"),
        (0.318, "0.32 s"),
        (2.87, "2.9 s"),
        (41.2, "41 s"),
        (67.4, "1 min 07 s"),
        (3725, "62 min 05 s"),
    ],
)
def test_seconds(value: float | None, text: str) -> None:
    assert seconds(value) == text


def test_num_uses_thousands_separators_and_a_dash_for_missing() -> None:
    assert (num(1234567), num(3.14159, 2), num(None)) == ("1,234,567", "3.14", "–")


# --- charts -----------------------------------------------------------------------------------


def test_charts_draw_one_mark_per_model_and_value() -> None:
    report = load("three_models")
    html = render(report)
    charts = section(html, "charts")
    bars = charts[charts.index('id="chart-criteria"') : charts.index('id="chart-value"')]
    scatter = charts[charts.index('id="chart-value"') : charts.index('id="chart-latency"')]
    latency = charts[charts.index('id="chart-latency"') :]
    assert bars.count("<rect ") == len(report["models"]) * len(report["criteria"])
    assert "<title>Mistral Large (24.02): accuracy 2/10</title>" in bars
    assert scatter.count("<circle ") == 3
    assert "Most score per dollar: Claude 3 Haiku" in Page(html).text("chart-value")
    assert latency.count("<rect ") == 3 and ">4.4 s</text>" in latency


def test_charts_leave_out_what_does_not_exist() -> None:
    report = load("failed_model")
    charts = section(render(report), "charts")
    assert charts.count("<circle ") == 2  # the failed model has no score and no latency
    latency = charts[charts.index('id="chart-latency"') :]
    assert latency.count("<rect ") == 2


# --- safety: untrusted text stays text, nothing external, CSP by hash ------------------------------


def test_hostile_text_never_becomes_markup() -> None:
    # Given model output, names, reasons, evidence, errors, notices and the request full of markup
    html = render(load("hostile_output"))
    page = Page(html)
    # Then the only elements are ours: one script, one style, no images, frames, forms, links out
    assert len(page.all("script")) == 1 and len(page.styles) == 1
    for tag in ("img", "iframe", "form", "input", "object", "embed", "base", "a"):
        if tag == "a":
            assert all(a.get("href", "").startswith("#") for a in page.all("a"))
        else:
            assert page.all(tag) == [], tag
    assert [a for a in page.all("link") if a.get("rel") != "icon"] == []
    assert len(page.all("meta", **{"http-equiv": "Content-Security-Policy"})) == 1
    assert page.all("meta", **{"http-equiv": "refresh"}) == []
    assert page.all("svg", onload="alert(5)") == []
    for tag, attrs in page.elements:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        assert not any(v.strip().lower().startswith("javascript:") for v in attrs.values()), (tag, attrs)
    # and the text reads exactly as the model wrote it
    column = answer_column(html, "meta.llama3-70b-instruct-v1:0")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in column
    assert "&lt;img src=x onerror=&#34;window.__pwned=1;alert(2)&#34;&gt;" in column
    assert "&lt;a href=&#34;javascript:alert(3)&#34;&gt;click me&lt;/a&gt;" in column
    assert "{{ 7*7 }} {% raw %}" in column and "&amp;lt;already-escaped&amp;gt;" in column
    assert "&lt;/pre&gt;&lt;script&gt;alert(&#39;article&#39;)&lt;/script&gt;" in section(html, "request")


def test_the_page_is_self_contained() -> None:
    html = render(load("three_models"))
    page = Page(html)
    for _, attrs in page.elements:
        for key in ("src", "href", "action", "data", "poster", "srcset", "xlink:href"):
            value = attrs.get(key, "")
            assert value == "" or value.startswith(("#", "data:")), (key, value)
    css = page.styles[0]
    assert "url(" not in css and "@import" not in css and "@font-face" not in css


def test_csp_admits_exactly_our_inline_script_and_style() -> None:
    page = Page(render(load("three_models")))
    (meta,) = page.all("meta", **{"http-equiv": "Content-Security-Policy"})
    policy = dict(d.strip().split(" ", 1) for d in meta["content"].split(";"))

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == digest(page.scripts[0])
    assert policy["style-src"] == digest(page.styles[0])
    assert policy["img-src"] == "data:"
    assert policy["base-uri"] == policy["form-action"] == "'none'"
    assert "unsafe" not in meta["content"] and "http" not in meta["content"]


def test_five_models_with_2000_word_answers_stay_under_one_megabyte() -> None:
    report = load("five_long_answers")
    assert [len(m["output"].split()) for m in report["models"]] == [2000] * 5
    html = render(report)
    assert len(html.encode("utf-8")) < 1_000_000
    for m in report["models"]:  # nothing truncated to make the budget
        assert m["output"].split()[-1] in answer_column(html, m["modelId"])


# --- index ------------------------------------------------------------------------------------


def index_rows() -> list[IndexRow]:
    rows = []
    for name in ("failed_model", "three_models", "hostile_output"):
        r = load(name)
        failed = r["totals"]["failed"]
        rows.append(
            IndexRow.model_validate(
                {
                    "evaluationId": r["evaluationId"],
                    "createdAt": r["createdAt"],
                    "title": r["title"],
                    "winner": r["winner"],
                    "totalCostUsd": r["totalCostUsd"],
                    "models": r["totals"]["models"],
                    "failed": failed,
                    "status": "ok" if failed == 0 else "partial",
                }
            )
        )
    return rows


def test_index_lists_evaluations_newest_first_with_winner_cost_and_status() -> None:
    html = render_index(index_rows())
    page = Page(html)
    order = [a["data-evaluation"] for a in page.all("tr") if "data-evaluation" in a]
    assert order == ["20261201T090000Z-3a0c1d2e", "20261130T143000Z-f41l3d00", "20261127T000000Z-h0st1le0"]
    text = page.text("evaluations")
    assert (
        "1 Dec 2026, 09:00 UTC Podcast script from a local news article 20261201T090000Z-3a0c1d2e "
        "meta.llama3-70b-instruct-v1:0 3 0 $0.00882 ok" in text
    )
    assert "partial" in text
    assert [a["href"] for a in page.all("a")] == [f"./{e}/report.html" for e in order]
    assert page.all("script") == [] and "&lt;script&gt;alert(&#34;title&#34;)" in html


def test_index_with_no_evaluations() -> None:
    assert "No evaluations yet." in render_index([])


# --- results.csv ------------------------------------------------------------------------------


def read_csv(report: dict[str, Any]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(render_csv(Report.model_validate(report)), newline="")))


def test_csv_has_one_row_per_model_in_leaderboard_order() -> None:
    report = load("three_models")
    text = render_csv(Report.model_validate(report))
    rows = read_csv(report)
    assert text.splitlines()[0].split(",") == csv_columns(c["name"] for c in report["criteria"])
    assert [r["modelId"] for r in rows] == [m["modelId"] for m in report["models"]]
    first = rows[0]
    assert (first["evaluationId"], first["rank"], first["weightedScore"], first["score_accuracy"]) == (
        report["evaluationId"],
        "1",
        "8.5",
        "9",
    )
    assert (first["tie"], first["tiedWith"], first["costUsd"], first["latencyMs"]) == (
        "true",
        "anthropic.claude-3-haiku-20240307-v1:0",
        "0.0012291",
        "2870",
    )
    assert (first["estimatedInputTokens"], first["wordCount"], rows[2]["unsupportedNumbers"]) == ("1210", "129", "3")


def test_csv_leaves_unscored_and_failed_scores_empty_never_zero() -> None:
    unscored = next(r for r in read_csv(load("unscored_model")) if r["scoreStatus"] == "unscored")
    assert unscored["weightedScore"] == unscored["score_accuracy"] == unscored["rank"] == ""
    assert "failed validation twice" in unscored["unscoredReason"]
    failed = next(r for r in read_csv(load("failed_model")) if r["status"] == "failed")
    assert (failed["weightedScore"], failed["latencyMs"], failed["error"]) == ("", "", "ModelThrottledError")


def test_csv_defuses_spreadsheet_formulas() -> None:
    report = copy.deepcopy(load("failed_model"))
    failed = next(m for m in report["models"] if m["status"] == "failed")
    failed["error"] = {"error": '=HYPERLINK("http://x","y")', "message": "+1-2"}
    row = next(r for r in read_csv(report) if r["status"] == "failed")
    assert row["error"].startswith("'=") and row["errorMessage"] == "'+1-2"
