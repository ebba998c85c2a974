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

from typing import Annotated, Any

from pydantic import Field

from bakeoff.catalog import load_catalog
from bakeoff.document import Document

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


# --- the report's section (``report.json`` ``repeats``) ------------------------------------------------


class RepeatSpread(Document):
    """One model's scores over its repeats (``bakeoff.statistics.repeat_spread``): items are the clusters."""

    items: Annotated[int, Field(description="Items (1 for one article) with at least one scored repeat.")]
    repeats: Annotated[int, Field(description="k: repeats asked per item.")]
    answers: Annotated[int, Field(description="Scored answers over every item and repeat.")]
    mean: Annotated[float | None, Field(description="The mean of the item means (each item's repeats averaged).")]
    ci95: Annotated[
        list[float] | None, Field(description="Bootstrap 95% interval of mean, resampling items (null for one item).")
    ] = None
    sd: Annotated[float | None, Field(description="Standard deviation (n - 1) of every scored answer.")] = None
    sd_within: Annotated[
        float | None, Field(description="Pooled within-item standard deviation: how far one repeat moves.")
    ] = None
    min: float | None = None
    max: float | None = None
    mean_range: Annotated[float | None, Field(description="Mean over items of max - min across repeats.")] = None
    pass_score: Annotated[float | None, Field(description="The request's passScore.")] = None
    pass_rate: Annotated[float | None, Field(description="Share of scored answers at or above passScore.")] = None
    complete_items: Annotated[int | None, Field(description="Items whose k repeats were all scored.")] = None
    pass_k: Annotated[float | None, Field(description="pass^k: share of complete items where every repeat passed.")] = (
        None
    )
    pass_at_k: Annotated[
        float | None, Field(description="pass@k: share of complete items where at least one repeat passed.")
    ] = None
    failed: Annotated[int, Field(description="Repeats whose answer failed.")] = 0
    unscored: Annotated[int, Field(description="Repeats answered but not scored (unscored or not judged).")] = 0


class RankAgreement(Document):
    """Do the repeats rank the models the same way (``bakeoff.statistics.rank_agreement``)?"""

    items: Annotated[int, Field(description="Items with two or more models scored in two or more common repeats.")]
    all_agree: Annotated[float | None, Field(description="Share of those items whose repeats all rank alike.")]
    same_winner: Annotated[float | None, Field(description="Share whose repeats all put the same model first.")]


class RepeatRow(Document):
    """One model on one item: its weighted score in each repeat."""

    item_id: str
    model_id: str
    scores: Annotated[list[float | None], Field(description="Repeat 1..k; null: failed or not scored.")]
    mean: float | None
    sd: float | None


class RepeatsSection(Document):
    """``report.json`` ``repeats``: present when the request asked for repeats > 1."""

    repeats: int
    seeded: Annotated[list[str], Field(description="Models given a distinct seed per repeat.")]
    unseeded: Annotated[list[str], Field(description="Models with no documented seed: temperature alone varies them.")]
    models: Annotated[dict[str, RepeatSpread], Field(description="{modelId: spread}, in leaderboard order.")]
    rank_agreement: RankAgreement
    per_item: Annotated[
        list[RepeatRow] | None, Field(description="Dataset mode: every item and model (at most 2,000 rows).")
    ] = None
    sentences: list[str]
