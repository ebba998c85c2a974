"""The judge-health rows of the probes (``judgeHealth.probes``): which kinds of planted error the judge
caught and which it missed, for one article or summed over a dataset's items.

Rows have the shape of ``render._health_checks``' rows (label, value, verdict, note); kept apart so
the renderer gains one line, not a block.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bakeoff.probes import LABELS, MISSES


def _row(label: str, value: str, verdict: str, note: str) -> dict[str, str]:
    return {"label": label, "value": value, "verdict": verdict, "note": note}


def _score(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) and not isinstance(value, bool) else "–"


def _single(kind: str, result: Mapping[str, Any]) -> dict[str, str]:
    label = f"Probe: {LABELS.get(kind, kind)}"
    if result.get("applicable") is False:
        return _row(label, "not applicable", "info", str(result.get("reason") or "nothing to change"))
    passed = result.get("passed")
    change = str(result.get("change") or "")
    if passed is None:
        return _row(label, "not measured", "warn", str(result.get("reason") or "the judge could not score it"))
    note = f"A copy of the best answer with only this changed ({change}) must score below the original."
    if not passed:
        note += f" It did not: the judge misses {MISSES.get(kind, kind)}."
    return _row(
        label,
        f"original {_score(result.get('originalScore'))} vs probe {_score(result.get('probeScore'))}",
        "pass" if passed else "fail",
        note,
    )


def _dataset(kind: str, result: Mapping[str, Any]) -> dict[str, str]:
    label = f"Probe: {LABELS.get(kind, kind)}"
    caught, missed = int(result.get("caught") or 0), int(result.get("missed") or 0)
    if caught + missed == 0:
        return _row(label, "not measured", "warn", "No item gave a measurable probe of this kind.")
    rate = result.get("catchRate")
    value = f"caught on {caught} of {caught + missed} items" + (f" ({rate:.0%})" if isinstance(rate, float) else "")
    note = "On each item, a copy of the best answer with only this changed must score below the original."
    if missed:
        note += f" On {missed} item(s) it did not: the judge misses {MISSES.get(kind, kind)}."
    return _row(label, value, "fail" if missed else "pass", note)


def probe_checks(probes: Mapping[str, Any]) -> list[dict[str, str]]:
    """A summary row ("the judge misses negations ...") and one row per probe kind; none without probes."""
    results = probes.get("results") if isinstance(probes, Mapping) else None
    if not isinstance(results, Mapping) or not results:
        return []
    missed, caught = list(probes.get("missed") or []), list(probes.get("caught") or [])
    summary = str(probes.get("summary") or "no probe could be measured")
    rows = [
        _row(
            "Probes",
            f"{len(missed)} of {len(results)} kinds missed"
            if missed
            else f"{len(caught)} of {len(results)} kinds caught",
            "fail" if missed else ("pass" if caught else "warn"),
            summary[:1].upper() + summary[1:] + ". Each probe plants one kind of error in a copy of the "
            "best answer; a judge that scores it as high as the original cannot see that kind of error.",
        )
    ]
    per_kind = _dataset if any("catchRate" in r for r in results.values() if isinstance(r, Mapping)) else _single
    rows += [per_kind(kind, result) for kind, result in results.items() if isinstance(result, Mapping)]
    return rows
