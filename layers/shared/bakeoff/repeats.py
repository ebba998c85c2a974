"""Repeats (request field ``repeats``): each candidate answers the same article k times, so the report can
show how far one answer's score is from the next.

Repeat 1 is exactly the call a run without repeats makes (no seed, the same checkpoint). Repeats 2..k send
a seed where the model documents one, so each repeat is a different sample that a rerun reproduces:

- the local models (``tools/converse_local``) take ``seed`` in ``additionalModelRequestFields``;
- on Bedrock, Cohere Command R and R+ document ``seed`` among their inference parameters.

Other Bedrock models (Claude, Nova, Llama, Mistral) document no seed: their repeats differ only through
``temperature``. At temperature 0 they will mostly repeat themselves, which Validate warns about.
"""

from __future__ import annotations

from typing import Any

from bakeoff.catalog import load_catalog

# Families whose Bedrock inference parameters document an integer ``seed`` (passed through Converse's
# additionalModelRequestFields).
SEEDED_FAMILIES = frozenset({"cohere.command"})


def takes_seed(model_id: str) -> bool:
    """The model accepts a sampling seed: a local model, or a family that documents one."""
    info = load_catalog().get(model_id)
    return info is not None and (info.local or info.family in SEEDED_FAMILIES)


def seed_of(repeat: int) -> int:
    """Repeat r's seed: fixed per repeat, so a rerun asks the same thing and finds its checkpoint."""
    return repeat


def seed_fields(model_id: str, repeat: int) -> dict[str, Any] | None:
    """``additionalModelRequestFields`` for this repeat, or None (repeat 1, or a model without a seed)."""
    if repeat <= 1 or not takes_seed(model_id):
        return None
    return {"seed": seed_of(repeat)}


def unseeded_at_zero(model_ids: list[str], repeats: int, temperature: float) -> list[str]:
    """The models whose repeats will likely all be the same answer: no seed, and temperature 0."""
    if repeats <= 1 or temperature > 0:
        return []
    return [m for m in model_ids if not takes_seed(m)]
