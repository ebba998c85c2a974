"""The control answer: a deliberately corrupted copy of the best answer, judged like any other.

A judge worth trusting scores it below the original. One that does not (a judge that gives
everything 10, or reads only style) fails ``controlPassed``, and the report says so. The corruption
is deterministic (no randomness but a seed taken from the text itself), so a retry of the score
step produces the same control answer, finds its verdict checkpointed and calls nothing again.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Any

from bakeoff.metrics import NUMBER, proper_names
from bakeoff.models import Verdict

# The judge's scale starts at 1 (verdict_schema); weighted scores cannot go below it.
FLOOR_SCORE = 1.0
# Added when the answer has neither numbers nor names to change: a claim the article cannot support.
FABRICATED_CLAIM = "The article also reports that the whole plan was quietly cancelled a year earlier."
FALLBACK_NAME = "Jordan Whitcombe"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Corruption:
    text: str
    changes: list[str]

    @property
    def description(self) -> str:
        return "; ".join(self.changes) or "nothing could be changed"


def _shift_digit(d: str) -> str:
    n = int(d)
    return str(n + 3 if n <= 6 else n - 4)


def change_number(token: str) -> str:
    """Change the first digit (``2,300`` → ``5,300``, ``7`` → ``3``, ``0.5`` → ``3.5``): 0-6 go up by
    3, 7-9 down by 4, so the result always differs, keeps its shape and never starts with 0."""
    i = next(i for i, ch in enumerate(token) if ch.isdigit())
    return token[:i] + _shift_digit(token[i]) + token[i + 1 :]


def _change_numbers(text: str) -> tuple[str, list[str]]:
    examples: list[str] = []

    def sub(m: re.Match[str]) -> str:
        new = change_number(m.group(0))
        examples.append(f"{m.group(0)} → {new}")
        return new

    return NUMBER.sub(sub, text), examples


def _swap_names(text: str, article: str) -> tuple[str, list[str]]:
    names = proper_names(text)
    if not names:
        return text, []
    if len(names) == 1:
        others = [n for n in proper_names(article) if n != names[0] and n not in text]
        mapping = {names[0]: others[0] if others else FALLBACK_NAME}
    else:
        mapping = {name: names[(i + 1) % len(names)] for i, name in enumerate(names)}
    # One pass, longest name first, so "Lucinda Ortega" is replaced before "Ortega" could be.
    alternatives = "|".join(re.escape(n) for n in sorted(mapping, key=len, reverse=True))
    pattern = re.compile(rf"\b({alternatives})\b")
    return pattern.sub(lambda m: mapping[m.group(0)], text), [f"{a} → {b}" for a, b in mapping.items()]


def _units(text: str) -> tuple[list[str], str]:
    """Lines when the answer is laid out in lines (a script), else sentences; and the joiner."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        return lines, "\n"
    return [s for s in _SENTENCE_END.split(text.strip()) if s], " "


def _shuffle(text: str) -> tuple[str, int]:
    units, joiner = _units(text)
    if len(units) < 2:
        return text, 0
    seed = int(hashlib.sha256(text.encode()).hexdigest()[:16], 16)
    order = list(range(len(units)))
    random.Random(seed).shuffle(order)
    if order == sorted(order):
        order = order[1:] + order[:1]
    return joiner.join(units[i] for i in order), len(units)


def _examples(changes: list[str]) -> str:
    return ", ".join(changes[:3]) + (", ..." if len(changes) > 3 else "")


def corrupt(answer: str, article: str) -> Corruption:
    """Numbers changed, names swapped, sentences (or lines) shuffled; always the same for one input."""
    changes: list[str] = []
    text, numbers = _change_numbers(answer)
    if numbers:
        changes.append(f"{len(numbers)} number(s) changed ({_examples(numbers)})")
    text, names = _swap_names(text, article)
    if names:
        changes.append(f"{len(names)} name(s) swapped ({_examples(names)})")
    if not numbers and not names:
        text = f"{text.rstrip()} {FABRICATED_CLAIM}"
        changes.append("an unsupported claim added (no numbers or names to change)")
    text, shuffled = _shuffle(text)
    if shuffled:
        unit = "lines" if "\n" in text else "sentences"
        changes.append(f"order of {shuffled} {unit} shuffled")
    return Corruption(text=text, changes=changes)


def best_answer(weighted: dict[str, float | None], order: list[str]) -> str | None:
    """The model with the highest weighted score (first in request order on a tie), or None."""
    scored = [m for m in order if weighted.get(m) is not None]
    return max(scored, key=lambda m: (weighted[m], -order.index(m))) if scored else None


def control_result(
    model_id: str, corruption: Corruption, originals: dict[str, Verdict], controls: dict[str, Verdict]
) -> dict[str, Any]:
    """``judgeHealth.control``: passed when every judge that scored both put the control strictly
    below the original. ``passed`` is None (not False) when no judge could score the control, with
    the reason: an unscored verdict is unknown, not a failure."""
    per_judge: dict[str, dict[str, Any]] = {}
    for judge, control in controls.items():
        original = originals[judge]
        line: dict[str, Any] = {"originalScore": original.weighted_score, "controlScore": control.weighted_score}
        if control.status != "scored" or original.weighted_score is None:
            line.update(passed=None, reason=control.reason)
        elif original.weighted_score <= FLOOR_SCORE:
            # Nothing scores below the scale's floor: a control under an answer scored 1 shows nothing.
            line.update(
                passed=None,
                reason=f"the original answer already scored {original.weighted_score:g}, the "
                "lowest score, so the control could not score lower",
            )
        else:
            line["passed"] = control.weighted_score < original.weighted_score  # type: ignore[operator]
        per_judge[judge] = line
    measured = [line for line in per_judge.values() if line["passed"] is not None]
    passed = all(line["passed"] for line in measured) if measured else None

    def mean(key: str) -> float | None:
        values = [line[key] for line in measured]
        return round(sum(values) / len(values), 2) if values else None

    result: dict[str, Any] = {
        "passed": passed,
        "modelId": model_id,
        "originalScore": mean("originalScore"),
        "controlScore": mean("controlScore"),
        "corruption": corruption.description,
        "perJudge": per_judge,
    }
    if passed is None:
        result["reason"] = "the control check was inconclusive: " + "; ".join(
            str(line.get("reason")) for line in per_judge.values()
        )
    return result
