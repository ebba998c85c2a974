"""The request's ``reference`` and ``judgeProbes``, and a dataset line's ``reference``: refused with a
clear message when blank, too long or misplaced, and counted in the preflight estimate."""

from __future__ import annotations

import json

import pytest

from bakeoff.catalog import estimate_tokens
from bakeoff.errors import RequestValidationError
from bakeoff.estimate import JUDGE_OVERHEAD_TOKENS, judge_calls
from bakeoff.models import REFERENCE_MAX_CHARS
from bakeoff.validation import parse_dataset, validate_request
from tests.unit.test_request_validation import SETTINGS, problems, request, validate

GOOD = "The council voted 7 to 2 to replace the ferry with an electric vessel, ending three years of debate. " * 2
REFERENCE = "The council voted 7 to 2 for an electric ferry that will carry 180 passengers from 2029."


@pytest.mark.parametrize(
    ("reference", "fragment"),
    [
        ("", "no visible character"),
        (" \u200b\u3000 ", "no visible character"),
        ("x" * (REFERENCE_MAX_CHARS + 1), "the reference answer has 20,001 characters, over the limit of 20,000"),
    ],
)
def test_a_blank_or_too_long_reference_is_refused_saying_what_to_fix(reference, fragment):
    found = problems(request(reference=reference))
    assert fragment in found["reference"]


def test_a_reference_at_the_limit_is_accepted_and_resolved():
    evaluation = validate(request(reference="x" * REFERENCE_MAX_CHARS))
    assert evaluation.reference_answer == "x" * REFERENCE_MAX_CHARS


def test_a_dataset_lines_reference_is_held_to_the_same_limit():
    body = "\n".join(
        json.dumps({"id": i, "article": GOOD, "reference": ref})
        for i, ref in (("a", REFERENCE), ("b", "y" * (REFERENCE_MAX_CHARS + 1)))
    ).encode()
    with pytest.raises(RequestValidationError) as caught:
        parse_dataset(body, max_items=10)
    errors = {e["field"]: e["message"] for e in caught.value.details["errors"]}
    assert list(errors) == ["dataset line 2: reference"]
    assert "over the limit of 20,000" in errors["dataset line 2: reference"]


@pytest.mark.parametrize(
    ("probes", "field", "fragment"),
    [
        (["negation", "negation"], "judgeProbes", "each probe kind once; repeated: negation"),
        (["numbers"], "judgeProbes[0]", "'number', 'negation', 'name' or 'claim'"),
    ],
)
def test_bad_probe_kinds_are_refused(probes, field, fragment):
    assert fragment in problems(request(judgeProbes=probes))[field]


def test_probes_default_to_none_and_each_kind_is_one_judge_call_in_the_estimate():
    plain, probed = validate(request()), validate(request(judgeProbes=["number", "negation", "name", "claim"]))
    assert plain.request.probes == [] and probed.request.probes == ["number", "negation", "name", "claim"]
    calls = {e.model_id: e.calls for e in plain.estimate.lines if e.role == "judge"}
    calls_probed = {e.model_id: e.calls for e in probed.estimate.lines if e.role == "judge"}
    judge = plain.judge_model_id
    assert calls[judge] == judge_calls(plain.request) == len(plain.request.models) + 1  # + the control
    assert calls_probed[judge] == calls[judge] + 4
    assert probed.estimate.total_usd > plain.estimate.total_usd


def test_the_judge_estimate_reads_the_reference_with_every_answer():
    plain, guided = validate(request()), validate(request(reference=REFERENCE))
    judge = plain.judge_model_id
    line = {e.role: e for e in plain.estimate.lines if e.model_id == judge}["judge"]
    guided_line = {e.role: e for e in guided.estimate.lines if e.model_id == judge}["judge"]
    assert guided_line.input_tokens - line.input_tokens == line.calls * estimate_tokens(REFERENCE, judge)
    assert line.input_tokens > line.calls * JUDGE_OVERHEAD_TOKENS  # the estimate itself is unchanged


def test_a_datasets_estimate_counts_each_items_reference():
    raw = request(article=None, dataset={"s3Uri": "s3://bucket/items.jsonl"})
    items = parse_dataset(
        "\n".join(
            json.dumps({"id": str(i), "article": GOOD, **extra})
            for i, extra in enumerate([{"reference": REFERENCE}, {}])
        ).encode(),
        max_items=10,
    )
    with_refs = validate_request(
        raw, evaluation_id="ev-1", created_at="2026-12-01T00:00:00+00:00", settings=SETTINGS, items=items
    )
    without = validate_request(
        raw,
        evaluation_id="ev-1",
        created_at="2026-12-01T00:00:00+00:00",
        settings=SETTINGS,
        items=[i.model_copy(update={"reference": None}) for i in items],
    )
    judge = with_refs.judge_model_id
    inputs = [
        {e.role: e for e in ev.estimate.lines if e.model_id == judge}["judge"].input_tokens
        for ev in (with_refs, without)
    ]
    per_item_calls = judge_calls(with_refs.request)
    assert inputs[0] - inputs[1] == per_item_calls * estimate_tokens(REFERENCE, judge)
