"""Repeats in the report (request field ``repeats`` > 1): the spread of each model's scores over its
repeats, and what the repeats change in the entries and rows the report already has.

The score step hands every repeat's verdict in ``scores.json`` ``repeats``; repeat 1 is also the full
verdict the report has always shown. Here:

- ``split`` keeps repeat 1 for the entries (answer text, reasons, control and pairwise are repeat 1's);
- ``fold_single`` / ``fold_row`` make a model's score the mean of its scored repeats and its cost that of
  every repeat, so the ranking (and, in a dataset, each item's value for the bootstrap) uses all k;
- ``repeats_section`` builds ``report.json`` ``repeats`` with ``bakeoff.statistics`` doing the arithmetic.

A run without repeats never reaches any of this: its documents and report are as they were.
"""

from __future__ import annotations

from collections.abc import Sequence

from bakeoff.estimate import cost_usd
from bakeoff.models import Evaluation, ModelResult, Usage
from bakeoff.repeats import RankAgreement, RepeatRow, RepeatSpread, RepeatsSection, takes_seed
from bakeoff.report import DatasetRow, MeanScore, ModelEntry
from bakeoff.scores import RepeatScore, ScoresDocument
from bakeoff.statistics import rank_agreement, repeat_spread, sample_sd

PER_ITEM_ROWS = 2000  # as the dataset's per-item table: report.json stays readable at 1,000 items x 2 models


def split(results: Sequence[ModelResult]) -> tuple[list[ModelResult], dict[str, list[ModelResult]]]:
    """Repeat 1 of every model (what the entries show), and each model's repeats 2..k."""
    extras: dict[str, list[ModelResult]] = {}
    for result in results:
        if result.repeat is not None:
            extras.setdefault(result.model_id, []).append(result)
    return [r for r in results if r.repeat is None], extras


def _scored(repeats: Sequence[RepeatScore]) -> list[RepeatScore]:
    return [r for r in repeats if r.status == "scored" and r.weighted_score is not None]


def _criterion_means(repeats: Sequence[RepeatScore]) -> dict[str, float]:
    names = list(dict.fromkeys(name for r in repeats for name in r.scores))
    return {
        name: round(sum(vals) / len(vals), 4)
        for name in names
        if (vals := [r.scores[name] for r in repeats if name in r.scores])
    }


def fold_single(entry: ModelEntry, extras: Sequence[ModelResult], repeats: Sequence[RepeatScore] | None) -> None:
    """One article: the entry's cost and tokens count every repeat; a scored entry's score is the mean of its
    scored repeats, each criterion's too (its reason says so, and keeps repeat 1's)."""
    if extras:
        usage = sum((r.usage or Usage() for r in extras if r.status == "ok"), Usage())
        extra_cost = sum(cost_usd(entry.model_id, r.usage) for r in extras if r.status == "ok" and r.usage)
        new_extra = sum(
            cost_usd(entry.model_id, r.usage) for r in extras if r.status == "ok" and r.usage and not r.cached
        )
        if entry.cost_usd is not None:
            entry.new_cost_usd = round((0.0 if entry.cached else entry.cost_usd) + new_extra, 8)
            entry.cost_usd = round(entry.cost_usd + extra_cost, 8)
        entry.usage = entry.usage + usage
    scored = _scored(repeats or [])
    if entry.score_status != "scored" or not scored:
        return
    entry.weighted_score = round(sum(r.weighted_score for r in scored) / len(scored), 4)  # type: ignore[misc]
    entry.judge_cost_usd = round(sum(r.judge_cost_usd for r in repeats or []), 8)
    entry.scores = {
        name: MeanScore(
            score=mean,
            reason=f"mean over {len(scored)} repeats; repeat 1: {getattr(entry.scores.get(name), 'reason', '')}",
        )
        for name, mean in _criterion_means(scored).items()
    }


def fold_row(row: DatasetRow, doc: ScoresDocument) -> None:
    """A dataset item: the row's value is the mean of the model's scored repeats on it (the item is the
    cluster the bootstrap resamples), its usage and judge cost those of every repeat."""
    extras = [r for r in doc.results if r.model_id == row.model_id and r.repeat is not None]
    if extras:
        row.usage = (row.usage or Usage()) + sum((r.usage or Usage() for r in extras if r.status == "ok"), Usage())
        row.cached = bool(row.cached) and all(r.cached for r in extras if r.status == "ok")
    repeats = (doc.repeats or {}).get(row.model_id) or []
    if repeats:
        row.judge_cost_usd = round(sum(r.judge_cost_usd for r in repeats), 8)
    scored = _scored(repeats)
    if row.status != "ok" or row.score_status != "scored" or not scored:
        return
    row.weighted_score = round(sum(r.weighted_score for r in scored) / len(scored), 4)  # type: ignore[misc]
    row.scores = _criterion_means(scored)


def new_answer_cost(model_id: str, docs: Sequence[ScoresDocument]) -> float:
    """A dataset with repeats: what this run paid for the model's answers, repeat by repeat (a row mixes
    repeats reused from checkpoints with new ones, e.g. when ``repeats`` went from 3 to 4)."""
    usage = sum(
        (
            r.usage or Usage()
            for d in docs
            for r in d.results
            if r.model_id == model_id and r.status == "ok" and not r.cached
        ),
        Usage(),
    )
    return cost_usd(model_id, usage)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _sentences(
    spreads: dict[str, RepeatSpread], agreement: RankAgreement, k: int, names: dict[str, str], dataset: bool
) -> list[str]:
    out = []
    for model_id, s in spreads.items():
        if s.mean is None:
            out.append(f"{names.get(model_id, model_id)}: no repeat was scored")
            continue
        text = (
            f"{names.get(model_id, model_id)}: mean {_fmt(s.mean)} over {s.answers} scored answers "
            f"({k} repeats{f' x {s.items} items' if dataset else ''}), sd {_fmt(s.sd)}, "
            f"range {_fmt(s.min)}-{_fmt(s.max)}"
        )
        if s.pass_k is not None:
            text += (
                f"; every repeat reached {s.pass_score:g} on {s.pass_k:.0%} of {s.complete_items} item(s) (pass^{k})"
            )
        out.append(text)
    if agreement.items:
        where = f"{agreement.items} item(s)" if dataset else "this article"
        out.append(
            f"The {k} repeats rank the models the same way on {agreement.all_agree:.0%} of {where}"
            f" and agree on the winner on {agreement.same_winner:.0%}."
        )
    return out


def repeats_section(
    evaluation: Evaluation,
    items: Sequence[tuple[str, ScoresDocument | None]],
    order: Sequence[str],
    names: dict[str, str],
) -> RepeatsSection | None:
    """``report.json`` ``repeats`` from each item's scores.json (one article: one item); None without repeats.
    ``order``: the models in leaderboard order."""
    request = evaluation.request
    k = request.repeats
    if k < 2:
        return None
    dataset = request.dataset is not None
    by_model: dict[str, dict[str, list[float]]] = {m: {} for m in order}
    table: dict[str, dict[str, dict[int, float]]] = {}
    failed = dict.fromkeys(order, 0)
    rows: list[RepeatRow] = []
    for item_id, doc in items:
        if doc is None:
            continue
        for result in doc.results:
            if result.status != "ok" and result.model_id in failed:
                failed[result.model_id] += 1
        for model_id in order:
            repeats = (doc.repeats or {}).get(model_id) or []
            scored = {r.repeat: r.weighted_score for r in _scored(repeats)}
            by_model[model_id][item_id] = list(scored.values())
            table.setdefault(item_id, {})[model_id] = scored  # type: ignore[assignment]
            values = [scored.get(r) for r in range(1, k + 1)]
            present = [v for v in values if v is not None]
            rows.append(
                RepeatRow(
                    item_id=item_id,
                    model_id=model_id,
                    scores=values,
                    mean=round(sum(present) / len(present), 4) if present else None,
                    sd=None if (sd := sample_sd(present)) is None else round(sd, 4),
                )
            )
    answered = {
        m: sum(1 for _i, d in items if d for r in d.results if r.model_id == m and r.status == "ok") for m in order
    }
    spreads = {
        m: RepeatSpread.model_validate(
            {
                **repeat_spread(by_model[m], repeats=k, pass_score=request.pass_score, seed=f"repeats/{m}"),
                "failed": failed[m],
                "unscored": answered[m] - sum(len(v) for v in by_model[m].values()),
            }
        )
        for m in order
    }
    agreement = RankAgreement.model_validate(rank_agreement(table))
    return RepeatsSection(
        repeats=k,
        seeded=[m for m in order if takes_seed(m)],
        unseeded=[m for m in order if not takes_seed(m)],
        models=spreads,
        rank_agreement=agreement,
        per_item=rows[:PER_ITEM_ROWS] if dataset else None,
        sentences=_sentences(spreads, agreement, k, names, dataset),
    )
