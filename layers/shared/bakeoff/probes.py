"""Judge probes: the kinds of planted error, and what their results say about the judge. Pure.

The control answer (``functions/score/control.py``) corrupts the best answer in several ways at once,
so a judge that notices one of them passes. A probe plants one kind of error only, so the report can
say which kind the judge misses: a 1.5B judge caught every summary with one number changed and none
whose outcome verb was flipped. The corruption itself lives with the score step; this module holds
what both the score and the report step need: the kinds, their wording, and the summaries.
"""

from __future__ import annotations

from typing import Any, Literal

ProbeKind = Literal["number", "negation", "name", "claim"]
PROBE_KINDS: tuple[ProbeKind, ...] = ("number", "negation", "name", "claim")

# No probe unless asked: each kind is one more judge call per judge (per item of a dataset), and
# each reads the whole article again; the control answer, on by default, already mixes number,
# name and claim corruptions into one call. ``judgeProbes`` turns them on.
DEFAULT_PROBES: tuple[ProbeKind, ...] = ()

#: What each kind plants, as a sentence fragment ("the judge misses ...").
MISSES = {
    "number": "changed numbers",
    "negation": "negations (an outcome turned into its opposite)",
    "name": "swapped names",
    "claim": "unsupported claims",
}
LABELS = {
    "number": "a number changed",
    "negation": "the outcome negated",
    "name": "a name swapped",
    "claim": "an unsupported claim added",
}


def summary(caught: list[str], missed: list[str], inconclusive: list[str]) -> str | None:
    """One sentence for the report, e.g. "the judge misses negations (an outcome turned into its
    opposite)"; None when no probe was measured."""
    if missed:
        return "the judge misses " + _join([MISSES.get(k, k) for k in missed])
    if caught:
        return (
            "the judge caught every probe ("
            + ", ".join(caught)
            + ")"
            + (f"; not measured: {', '.join(inconclusive)}" if inconclusive else "")
        )
    return None


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def outcome(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``caught`` / ``missed`` / ``inconclusive`` kinds and the summary, from per-kind results
    that each have ``passed`` (True, False, or None when not measured)."""
    caught = [k for k, r in results.items() if r.get("passed") is True]
    missed = [k for k, r in results.items() if r.get("passed") is False]
    inconclusive = [k for k, r in results.items() if r.get("passed") is None]
    return {
        "caught": caught,
        "missed": missed,
        "inconclusive": inconclusive,
        "summary": summary(caught, missed, inconclusive),
    }


def aggregate(per_item: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The probes of many items (a dataset), per kind: how often the judge caught and missed it.

    A kind counts as missed when the judge missed it on any item: a judge that lets one flipped
    outcome through in ten will let others through. ``catchRate`` gives the proportion.
    """
    docs = [p for p in per_item if p]
    if not docs:
        return None
    kinds = list(dict.fromkeys(k for d in docs for k in d.get("kinds", [])))
    results: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        verdicts = [d.get("results", {}).get(kind, {}).get("passed") for d in docs if kind in d.get("kinds", [])]
        caught, missed = sum(v is True for v in verdicts), sum(v is False for v in verdicts)
        measured = caught + missed
        results[kind] = {
            "caught": caught,
            "missed": missed,
            "inconclusive": len(verdicts) - measured,
            "catchRate": round(caught / measured, 4) if measured else None,
            "passed": (missed == 0) if measured else None,
        }
    return {"kinds": kinds, "results": results, **outcome(results)}
