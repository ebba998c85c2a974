"""The pricing catalog: complete for every model validation accepts, well-formed, and resolvable."""

from __future__ import annotations

import pytest

from bakeoff.catalog import estimate_tokens, load_catalog
from bakeoff_offline.template import load_template
from converse_local import catalog as local_catalog
from tests.conftest import ROOT

REQUIRED_FAMILIES = [
    "anthropic.claude-3-haiku",
    "anthropic.claude-3-5-haiku",
    "anthropic.claude-3-5-sonnet",
    "anthropic.claude-3-7-sonnet",
    "anthropic.claude-sonnet-4",
    "meta.llama3-",
    "meta.llama3-1",
    "meta.llama3-2",
    "meta.llama3-3",
    "amazon.nova-micro",
    "amazon.nova-lite",
    "amazon.nova-pro",
    "mistral.",
    "cohere.command-r-v1",
    "cohere.command-r-plus",
]


def test_every_allowed_model_of_the_template_has_a_price():
    template = load_template(ROOT / "template.yaml")
    allowed = [m.strip() for m in template["Parameters"]["AllowedModelIds"]["Default"].split(",")]
    judge = template["Parameters"]["JudgeModelId"]["Default"]
    missing = [m for m in [*allowed, judge] if load_catalog().get(m) is None]
    assert not missing


def test_every_local_model_of_the_endpoint_is_in_the_catalog_at_zero_cost():
    for model_id in local_catalog.MODELS:
        info = load_catalog().get(model_id)
        assert info is not None and info.local, model_id
        assert info.input_per_1k_usd == 0 and info.output_per_1k_usd == 0
        assert info.context_window == local_catalog.MODELS[model_id].n_ctx


@pytest.mark.parametrize("prefix", REQUIRED_FAMILIES)
def test_the_required_families_are_priced(prefix):
    assert any(m.model_id.startswith(prefix) for m in load_catalog().models), prefix


def test_entries_are_well_formed():
    catalog = load_catalog()
    ids = [m.model_id for m in catalog.models]
    assert len(ids) == len(set(ids))
    for model in catalog.models:
        assert model.family in catalog.families, model.model_id
        assert model.max_output_tokens <= model.context_window
        if not model.local:
            assert model.input_per_1k_usd > 0 and model.output_per_1k_usd > 0, model.model_id
            assert model.region and model.source and model.as_of, model.model_id


@pytest.mark.parametrize(
    "profile",
    [
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "eu.amazon.nova-lite-v1:0",
        "global.anthropic.claude-sonnet-4-20250514-v1:0",
    ],
)
def test_inference_profiles_resolve_to_their_base_model(profile):
    info = load_catalog().get(profile)
    assert info is not None and profile.endswith(info.model_id)


def test_unknown_ids_do_not_resolve():
    assert load_catalog().get("us.openai.gpt-9") is None


def test_token_estimates_use_the_family_ratio():
    text = "x" * 3500
    assert estimate_tokens(text, "anthropic.claude-3-haiku-20240307-v1:0") == 1001  # 3.5 chars/token, rounded up
    assert estimate_tokens(text, "amazon.nova-lite-v1:0") == 876  # 4.0 chars/token
