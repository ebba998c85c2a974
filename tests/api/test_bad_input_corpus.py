"""The bad-input corpus (tests/api/corpus/*.json) sent to the local API: every case is refused with 400
and a field-level message, no execution starts and the Converse boundary sees no call.

Twice: through the gateway as deployed (the draft-4 model refuses most cases before any Lambda runs),
and with the gateway's validator off, where the API function alone must refuse them. The corpus file
says which layer refuses each case; a case the schema lets through must reach the function."""

from __future__ import annotations

import pytest

from tests.api.helpers import converse_calls, executions, http, load_corpus, names_field


def test_the_corpus_is_big_enough_and_covers_the_issue() -> None:
    names = {case.name for case in load_corpus()}
    assert len(names) >= 40
    for required in (
        "missing-article",
        "unknown-field-misspelt",
        "article-number",
        "article-99-chars",
        "article-50001-chars",
        "zero-models",
        "six-models",
        "duplicate-models",
        "unknown-model-id",
        "judge-among-candidates",
        "weight-0",
        "weight-11",
        "non-json-form-body",
        "body-10-megabytes",
        "invalid-utf8",
        "deeply-nested-json",
        "injection-in-model-id",
    ):
        assert required in names


def _refused(reply, field: str) -> None:
    assert reply.status == 400, reply.body[:500]
    body = reply.json()
    errors = body["errors"]
    assert errors and all(isinstance(e["field"], str) and e["field"] and e["message"] for e in errors)
    assert names_field(errors, field), f"no error names {field!r}: {errors}"
    # A refusal never echoes the body back (a 10 MB article, or someone's injection text).
    assert len(reply.body) < 5000


def test_refused_through_the_gateway(corpus_case, api, offline, converse) -> None:
    # Given
    calls, started, invoked = converse_calls(converse), executions(offline), api.lambda_invocations
    # When
    reply = http("POST", api.url + "/evaluations", corpus_case.body)
    # Then
    _refused(reply, corpus_case.field)
    assert converse_calls(converse) == calls
    assert executions(offline) == started
    if corpus_case.gateway == "reject":
        assert api.lambda_invocations == invoked, "the gateway should have refused this before any Lambda ran"
        assert reply.headers.get("x-amzn-errortype") == "BadRequestException"
    else:
        assert api.lambda_invocations == invoked + 1, "the schema cannot tell; the API function must refuse it"


def test_refused_by_the_function_alone(corpus_case, api_without_validator, offline, converse) -> None:
    if corpus_case.pydantic_lax:
        pytest.skip(
            "pydantic's lax mode coerces this; only the gateway's schema refuses it "
            "(see test_schema_model.py::test_lax_cases_are_what_pydantic_coerces)"
        )
    calls, started = converse_calls(converse), executions(offline)
    reply = http("POST", api_without_validator.url + "/evaluations", corpus_case.body)
    _refused(reply, corpus_case.handler_field)
    assert converse_calls(converse) == calls
    assert executions(offline) == started
