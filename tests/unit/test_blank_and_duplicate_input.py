"""Validation refuses what would pay models to answer nothing, or to answer twice (issue 16, item 5).

Blank and invisible text (after NFKC, no visible character) in every free-text field; a dataset line
whose article is blank (refused before any model call, with the line's number); the same base model
twice through an inference-profile prefix; strict JSON read one way (duplicate keys, NaN, nesting,
U+2028 inside a string); unpriced models refused unless allowUnpriced, then counted as unknown."""

from __future__ import annotations

import copy
import json

import pytest

from bakeoff.errors import BudgetExceededError, RequestValidationError
from bakeoff.jsontext import dump_utf8, parse_json
from bakeoff.settings import Settings
from bakeoff.text import has_visible_text
from bakeoff.validation import parse_dataset, validate_request
from tests.conftest import load_event

SETTINGS = Settings(BUCKET_NAME="bucket", JUDGE_MODEL_ID="amazon.nova-pro-v1:0", MAX_COST_PER_EVALUATION_USD=2.0)

# What a reader sees as nothing, each long enough to pass the length limits.
INVISIBLE = {
    "spaces": " " * 200,
    "tabs-and-newlines": "\t\n\r " * 50,
    "no-break-and-ideographic-spaces": "\u00a0\u3000\u2007\u202f" * 50,
    "zero-width": "\u200b\u200c\u200d\u2060\ufeff" * 40,
    "nul-and-controls": "\x00\x01\x1f\x7f" * 50,
    "combining-marks-alone": "\u0301\u0308\u0327\u20dd" * 50,
    "bidi-marks": "\u200e\u200f\u202a\u202b\u202e\u2066\u2069\u061c" * 25,
    "hangul-fillers": "\u3164\u115f\u1160\uffa0" * 50,
    "braille-blank": "\u2800" * 200,
    "line-and-paragraph-separators": "\u2028\u2029\u0085" * 70,
    "variation-selectors": "\ufe0f\ufe0e" * 100,
    "tag-characters": "".join(chr(0xE0020 + i % 90) for i in range(200)),
}
VISIBLE = {
    "latin": "a" + " " * 199,
    "cjk": "記事" * 60,
    "accented": "e\u0301" * 60,
    "emoji": "\U0001f600" * 100,
    "digits-in-zero-width": "\u200b" * 150 + "7",
    "full-width-letter": "\uff21" * 100,
}


def request(**changes):
    base = copy.deepcopy(load_event("statemachine/podcast-bedrock.json"))
    base.update(changes)
    return base


def validate(raw, **kwargs):
    return validate_request(
        raw, evaluation_id="ev-1", created_at="2026-12-01T00:00:00+00:00", settings=SETTINGS, **kwargs
    )


def problems(raw, **kwargs) -> dict[str, str]:
    with pytest.raises(RequestValidationError) as caught:
        validate(raw, **kwargs)
    return {e["field"]: e["message"] for e in caught.value.details["errors"]}


@pytest.mark.parametrize("text", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_invisible_text_has_nothing_to_read(text) -> None:
    assert not has_visible_text(text)


@pytest.mark.parametrize("text", VISIBLE.values(), ids=VISIBLE.keys())
def test_any_visible_character_is_text(text) -> None:
    assert has_visible_text(text)


@pytest.mark.parametrize("kind", INVISIBLE)
@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("article", lambda t: {"article": t}),
        ("prompt", lambda t: {"prompt": t[:20_000]}),
        (
            "scoringCriteria.clarity.description",
            lambda t: {"scoringCriteria": {"clarity": {"weight": 3, "description": t[:500]}}},
        ),
        ("title", lambda t: {"title": t[:200]}),
    ],
)
def test_every_free_text_field_refuses_invisible_text(kind, field, changes) -> None:
    found = problems(request(**changes(INVISIBLE[kind])))
    assert field in found, found
    assert "no visible character" in found[field] and "write the text" in found[field]


def test_a_prompt_of_spaces_and_an_article_of_zero_width_spaces_are_both_named() -> None:
    found = problems(request(prompt=" " * 40, article="\u200b" * 300))
    assert {"prompt", "article"} <= set(found)


@pytest.mark.parametrize(
    ("models", "field", "names"),
    [
        (["amazon.nova-lite-v1:0", "us.amazon.nova-lite-v1:0"], "models[1]", "models[0]"),
        (["us.amazon.nova-lite-v1:0", "eu.amazon.nova-lite-v1:0"], "models[1]", "models[0]"),
        (
            ["anthropic.claude-3-haiku-20240307-v1:0", "amazon.nova-lite-v1:0", "global.amazon.nova-lite-v1:0"],
            "models[2]",
            "models[1]",
        ),
    ],
)
def test_the_same_base_model_twice_through_a_profile_is_refused(models, field, names) -> None:
    found = problems(request(models=models))
    assert field in found, found
    assert names in found[field] and "inference profile" in found[field]


def test_a_judge_panel_with_one_model_twice_through_a_profile_is_refused() -> None:
    raw = request(judges=["amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1:0"])
    raw.pop("judgeModelId", None)
    assert "judges[1]" in problems(raw)


def test_an_unknown_model_and_its_profile_are_one_model_too() -> None:
    found = problems(request(models=["acme.brand-new-v1:0", "us.acme.brand-new-v1:0"], allowUnpriced=True))
    assert "models[1]" in found


# --- dataset lines ---------------------------------------------------------------------------------


def _line(item_id: str, article: str, **extra) -> str:
    return json.dumps({"id": item_id, "article": article, **extra}, ensure_ascii=False)


GOOD = "The council voted 7 to 2 to replace the ferry with an electric vessel, ending three years of debate. " * 2


def test_a_dataset_line_with_a_blank_article_is_refused_with_its_number() -> None:
    body = "\n".join(
        [
            _line("a", GOOD),
            _line("b", " " * 150),
            _line("c", "\u200b\u200f" * 80),
            _line("d", GOOD, reference="\u3000" * 5),
        ]
    ).encode()
    with pytest.raises(RequestValidationError) as caught:
        parse_dataset(body, max_items=100)
    fields = {e["field"]: e["message"] for e in caught.value.details["errors"]}
    assert set(fields) == {"dataset line 2: article", "dataset line 3: article", "dataset line 4: reference"}
    assert all("no visible character" in m for m in fields.values())


def test_u2028_inside_a_dataset_string_is_one_line_of_json() -> None:
    # JSON allows U+2028 / U+2029 raw inside a string; JSON Lines ends a line at \n only.
    body = (_line("a", GOOD + "\u2028second paragraph\u2029third\x85fourth") + "\r\n" + _line("b", GOOD)).encode()
    items = parse_dataset(body, max_items=10)
    assert [i.id for i in items] == ["a", "b"]
    assert "\u2028second paragraph\u2029third\x85fourth" in items[0].article


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        ('{"id": "a", "id": "b", "article": "x"}', "dataset line 1: id", "twice"),
        ('{"id": "a", "article": NaN}', "dataset line 1", "not valid JSON"),
        ("[" * 5000 + "]" * 5000, "dataset line 1", "nested too deeply"),
        ("[1, 2]", "dataset line 1", "expected a JSON object"),
        ("{", "dataset line 1", "not valid JSON"),
    ],
)
def test_a_dataset_line_is_read_as_strictly_as_a_request(line, field, words) -> None:
    with pytest.raises(RequestValidationError) as caught:
        parse_dataset(line.encode(), max_items=10)
    (error,) = caught.value.details["errors"]
    assert error["field"] == field and words in error["message"]


# --- one JSON reader ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ('{"article": "a", "article": "b"}', "article", "twice"),
        ('{"t": Infinity}', "(body)", "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "(body)", "nested too deeply"),
    ],
)
def test_parse_json_refuses_what_the_api_refuses(text, field, words) -> None:
    with pytest.raises(RequestValidationError) as caught:
        parse_json(text)
    (error,) = caught.value.details["errors"]
    assert error["field"] == field and words in error["message"]


def test_a_50000_character_cjk_article_is_sent_as_utf8_inside_the_body_limit() -> None:
    from functions.api.service import MAX_BODY_BYTES

    body = dump_utf8(request(article="記" * 50_000))
    assert len(body) < MAX_BODY_BYTES < len(json.dumps(request(article="記" * 50_000)).encode())
    assert json.loads(body)["article"] == "記" * 50_000


def test_an_unpaired_surrogate_cannot_be_sent() -> None:
    with pytest.raises(RequestValidationError) as caught:
        dump_utf8({"article": "\ud800"})
    assert "surrogate" in caught.value.details["errors"][0]["message"]


# --- unpriced models ---------------------------------------------------------------------------------


def test_an_unpriced_model_is_refused_unless_allowed() -> None:
    found = problems(request(models=["amazon.nova-lite-v1:0", "acme.brand-new-v1:0"]))
    assert "models[1]" in found and "allowUnpriced" in found["models[1]"]


def test_an_allowed_unpriced_model_is_unknown_in_the_estimate_never_zero() -> None:
    evaluation = validate(request(models=["amazon.nova-lite-v1:0", "acme.brand-new-v1:0"], allowUnpriced=True))
    lines = {line.model_id: line for line in evaluation.estimate.lines}
    assert lines["acme.brand-new-v1:0"].cost_usd is None
    assert lines["amazon.nova-lite-v1:0"].cost_usd > 0
    assert evaluation.estimate.unpriced == ["acme.brand-new-v1:0"]
    priced_sum = sum(line.cost_usd for line in evaluation.estimate.lines if line.cost_usd is not None)
    assert evaluation.estimate.total_usd == pytest.approx(priced_sum, abs=1e-6)
    assert any("acme.brand-new-v1:0 has no price" in w for w in evaluation.warnings)


def test_a_budget_cannot_be_checked_with_an_unpriced_model() -> None:
    raw = request(models=["amazon.nova-lite-v1:0", "acme.brand-new-v1:0"], allowUnpriced=True, budgetUsd=5)
    with pytest.raises(BudgetExceededError) as caught:
        validate(raw)
    (error,) = caught.value.details["errors"]
    assert error["field"] == "budgetUsd" and "unknown" in error["message"]
