"""Pairwise mode: every pair of answers judged in both orders, and what that says about the judge.

A win counts only when the judge picks the same answer whichever way round it was shown; any other
outcome is a tie. The share of pairs whose verdict changed when the order was swapped is the
judge's ``positionFlipRate``: 0 for a judge that reads, 1.0 for one that always picks the first.
Pure logic over ``Comparison`` records; the calls are made by ``Judge.compare``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import permutations
from typing import Any, Literal

from bakeoff.models import Contract, Usage

Outcome = Literal["first", "second", "tie"]


class Comparison(Contract):
    """One judge's preference between two answers shown in one order (``first`` is labelled A)."""

    judge_model_id: str
    first: str
    second: str
    status: Literal["decided", "unscored"]
    winner: Outcome | None = None
    reason: str | None = None
    raw_reply: str | None = None
    usage: Usage = Usage()
    attempts: int = 1
    cached: bool = False

    @property
    def preferred(self) -> str | None:
        """The model the judge preferred, ``"tie"``, or None when the reply was unusable."""
        if self.status != "decided":
            return None
        return {"first": self.first, "second": self.second}.get(self.winner or "", "tie")


def ordered_pairs(model_ids: list[str]) -> list[tuple[str, str]]:
    """Every pair in both orders: n·(n-1) comparisons, as the preflight estimate counts them."""
    return list(permutations(model_ids, 2))


def summarise(comparisons: list[Comparison], model_ids: list[str]) -> dict[str, Any]:
    """``judgeHealth.pairwise``: flip rate, consistent wins, ties, and one line per pair and judge.

    A pair whose reply was unusable in either order is counted in ``unscored`` and left out of
    ``pairs`` and the flip rate, rather than guessed.
    """
    by_pair: dict[tuple[str, frozenset[str]], dict[tuple[str, str], Comparison]] = defaultdict(dict)
    for c in comparisons:
        by_pair[(c.judge_model_id, frozenset((c.first, c.second)))][(c.first, c.second)] = c
    wins: Counter[str] = Counter({m: 0 for m in model_ids})
    ties = flips = pairs = unscored = 0
    results: list[dict[str, Any]] = []
    for (judge, pair), orders in by_pair.items():
        x, y = sorted(pair, key=model_ids.index)
        there, back = orders.get((x, y)), orders.get((y, x))
        line: dict[str, Any] = {"judgeModelId": judge, "pair": [x, y]}
        if there is None or back is None or there.preferred is None or back.preferred is None:
            unscored += 1
            results.append({**line, "outcome": "unscored", "flipped": None})
            continue
        pairs += 1
        flipped = there.preferred != back.preferred
        flips += flipped
        if not flipped and there.preferred != "tie":
            wins[there.preferred] += 1
            outcome = there.preferred
        else:
            ties += 1
            outcome = "tie"
        results.append(
            {
                **line,
                "outcome": outcome,
                "flipped": flipped,
                "orders": {f"{x} first": there.preferred, f"{y} first": back.preferred},
            }
        )
    decided = [c for c in comparisons if c.status == "decided"]
    return {
        "positionFlipRate": round(flips / pairs, 4) if pairs else None,
        "pairs": pairs,
        "wins": dict(wins),
        "ties": ties,
        "unscored": unscored,
        # How often the first-shown answer was preferred, over single comparisons: 0.5 is no lean.
        "firstPreferredRate": (round(sum(c.winner == "first" for c in decided) / len(decided), 4) if decided else None),
        "results": results,
    }


def beats(summary: dict[str, Any], x: str, y: str) -> bool:
    """True when ``x`` won against ``y`` in both orders for a strict majority of the judges that
    compared the pair (one judge: that judge's consistent win)."""
    lines = [r for r in summary["results"] if set(r["pair"]) == {x, y} and r["outcome"] != "unscored"]
    return bool(lines) and sum(r["outcome"] == x for r in lines) * 2 > len(lines)
