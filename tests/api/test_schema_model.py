"""The API Gateway model (api/evaluation-request.schema.json, JSON Schema draft 4) against the pydantic
``EvaluationRequest``: same fields, same bounds, the same verdict on valid requests, and on the corpus
the schema never refuses what the full validation would accept (apart from pydantic's lax coercions,
listed by the corpus). The template must embed the file unchanged."""

from __future__ import annotations

import copy
import json
import typing
from typing import Any

import pytest
from jsonschema import Draft4Validator

from bakeoff.errors import RequestValidationError
from bakeoff.models import CRITERION_NAME, EvaluationRequest
from bakeoff.settings import Settings
from bakeoff.validation import parse_request, validate_request
from bakeoff_offline.local_api import parse_and_validate
from bakeoff_offline.template import read_stack
from functions.api.service import read_body
from tests.api.helpers import ROOT, base_request, load_corpus

SCHEMA = json.loads((ROOT / "api" / "evaluation-request.schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft4Validator(SCHEMA)
PYDANTIC = EvaluationRequest.model_json_schema(by_alias=True)


def api_settings() -> Settings:
    return Settings.from_env(read_stack(ROOT).functions["ApiFunction"].environment)


def schema_accepts(value: Any) -> bool:
    return not list(VALIDATOR.iter_errors(value))


def full_validation_accepts(value: Any) -> bool:
    try:
        validate_request(
            value, evaluation_id="20250101T000000Z-00000000", created_at="2025-01-01T00:00:00Z", settings=api_settings()
        )
    except RequestValidationError:
        return False
    return True


def _pydantic_property(name: str) -> dict[str, Any]:
    """A property of pydantic's JSON schema, with an ``X | None`` union reduced to X."""
    prop = PYDANTIC["properties"][name]
    options = [o for o in prop.get("anyOf", [prop]) if o.get("type") != "null"]
    return options[0] | {k: v for k, v in prop.items() if k != "anyOf"}


def test_the_schema_is_draft_4() -> None:
    Draft4Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert SCHEMA["additionalProperties"] is False


def test_same_fields_and_required_fields() -> None:
    aliases = {field.alias or name for name, field in EvaluationRequest.model_fields.items()}
    assert set(SCHEMA["properties"]) == aliases
    assert set(SCHEMA["required"]) == set(PYDANTIC["required"])


@pytest.mark.parametrize("name", sorted(SCHEMA["properties"]))
def test_same_bounds(name: str) -> None:
    ours, theirs = SCHEMA["properties"][name], _pydantic_property(name)
    for keyword in ("minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum"):
        if keyword in theirs:
            assert ours.get(keyword) == theirs[keyword], f"{name}.{keyword}"
    if "exclusiveMinimum" in theirs:  # pydantic writes draft 2020's number, draft 4 a flag on minimum
        assert (ours["minimum"], ours["exclusiveMinimum"]) == (theirs["exclusiveMinimum"], True)
    if "items" in theirs and "items" in ours:
        for keyword in ("minLength", "maxLength"):
            assert ours["items"].get(keyword) == theirs["items"].get(keyword), f"{name}.items.{keyword}"


def test_criteria_match_the_model() -> None:
    criteria = SCHEMA["properties"]["scoringCriteria"]
    assert list(criteria["patternProperties"]) == [CRITERION_NAME.replace(r"\-", "-")]
    criterion = criteria["patternProperties"][next(iter(criteria["patternProperties"]))]
    weight = PYDANTIC["$defs"]["Criterion"]["properties"]["weight"]
    assert (criterion["minimum"], criterion["maximum"]) == (weight["minimum"], weight["maximum"])
    assert criterion["properties"]["weight"]["minimum"] == weight["minimum"]
    description = _pydantic_def_property("Criterion", "description")
    assert criterion["properties"]["description"]["minLength"] == description["minLength"]
    assert criterion["properties"]["description"]["maxLength"] == description["maxLength"]
    mode = typing.get_args(EvaluationRequest.model_fields["mode"].annotation)
    assert SCHEMA["properties"]["mode"]["enum"] == list(mode)


def _pydantic_def_property(model: str, name: str) -> dict[str, Any]:
    prop = PYDANTIC["$defs"][model]["properties"][name]
    return next(o for o in prop.get("anyOf", [prop]) if o.get("type") != "null")


def _valid_requests() -> dict[str, Any]:
    base = base_request()
    full = copy.deepcopy(base) | {
        "mode": "pairwise",
        "controlAnswer": False,
        "temperature": 0.2,
        "budgetUsd": 1.5,
        "strictJudge": False,
        "useCache": False,
        "allowUnpriced": False,
        "title": "t",
    }
    custom = copy.deepcopy(base) | {
        "scoringCriteria": {
            "accuracy": {"weight": 4},
            "humour": {"weight": 2, "description": "Makes the reader smile at least once."},
        }
    }
    panel = {k: v for k, v in base.items() if k != "judgeModelId"} | {
        "judges": ["amazon.nova-pro-v1:0", "mistral.mistral-large-2402-v1:0"]
    }
    nulls = copy.deepcopy(base) | {"title": None, "judgeModelId": None, "budgetUsd": None, "judges": None}
    event = json.loads((ROOT / "events" / "statemachine" / "podcast-bedrock.json").read_text(encoding="utf-8"))
    dataset = {k: v for k, v in base.items() if k != "article"} | {
        "dataset": {"s3Uri": "s3://my-bucket/datasets/articles.jsonl"}
    }
    return {
        "base": base,
        "all-fields": full,
        "custom-criterion": custom,
        "judge-panel": panel,
        "nulls": nulls,
        "sample-event": event,
        "dataset": dataset,
    }


@pytest.mark.parametrize("name", sorted(_valid_requests()))
def test_valid_requests_pass_both(name: str) -> None:
    request = _valid_requests()[name]
    assert schema_accepts(request), list(VALIDATOR.iter_errors(request))
    assert full_validation_accepts(request)


def test_the_schema_never_refuses_what_the_full_validation_accepts(corpus_case) -> None:
    """On the corpus: each case's recorded gateway verdict holds, and the function refuses every case
    (its body reading included) but the lax ones, so the schema is never the stricter of the two."""
    gateway = parse_and_validate(corpus_case.body, VALIDATOR)
    assert ("reject" if gateway else "pass") == corpus_case.gateway, gateway
    if corpus_case.pydantic_lax:
        return
    try:
        value = read_body(corpus_case.body.decode("utf-8", "surrogateescape"), False)
    except RequestValidationError:
        return  # refused while reading the body
    except UnicodeEncodeError:
        return  # not UTF-8: read_body's own bytes check is covered by the corpus over HTTP
    assert not full_validation_accepts(value)


def test_the_function_is_as_strict_as_the_schema() -> None:
    """No case is refused by the gateway alone: the function parses strictly and by alias, so
    ``"yes"`` is no boolean and snake_case names are unknown fields there too."""
    assert not [case.name for case in load_corpus() if case.pydantic_lax]
    for name in ("control-answer-string", "snake-case-field"):
        case = next(c for c in load_corpus() if c.name == name)
        with pytest.raises(RequestValidationError):
            parse_request(json.loads(case.body))
