"""Probes: copies of the best answer with one kind of error planted, judged like any other answer.

Each probe changes one fact and nothing else (no shuffling, unlike the control answer), so a judge
that scores it as high as the original missed exactly that kind of error. The corruptions are pure
text rules, deterministic from the answer (and, for names, the article): a retry of the score step
builds the same probe, finds its verdict checkpointed and calls nothing again. A kind with nothing to
change in this answer (no number, no verb to negate) is *not applicable*, and costs no call.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from bakeoff.metrics import NUMBER, numbers, proper_names
from bakeoff.models import Verdict
from bakeoff.probes import ProbeKind, outcome
from functions.score.control import FALLBACK_NAME, Corruption, change_number, control_result

# --- negation: an outcome turned into its opposite ----------------------------------------------

# One-way: each word maps to a word that states the opposite outcome in the same position. Verb forms
# are listed one by one (no stemming), so the tense and person survive the flip.
_OPPOSITES: dict[str, str] = {}
for _pair in """
approved:rejected approve:reject approves:rejects approval:rejection
rejected:approved reject:approve rejects:approves
accepted:refused accept:refuse accepts:refuses refused:accepted refuse:accept refuses:accepts
agreed:refused agree:refuse agrees:refuses
passed:failed succeeded:failed failed:succeeded
increased:decreased increase:decrease increases:decreases increasing:decreasing
decreased:increased decrease:increase decreases:increases decreasing:increasing
rose:fell rise:fall rises:falls rising:falling risen:fallen fell:rose fall:rise falls:rises falling:rising
raised:cut raise:cut raises:cuts cut:raise cuts:raises
won:lost win:lose wins:loses winning:losing lost:won lose:win loses:wins gained:lost
released:withdrew release:withdraw releases:withdraws withdrew:released withdraw:release withdrawn:released
opened:closed opens:closes closed:opened closes:opens
supported:opposed support:oppose supports:opposes opposed:supported oppose:support opposes:supports
allowed:banned allow:ban allows:bans banned:allowed ban:allow bans:allows
expanded:reduced expand:reduce expands:reduces reduced:expanded reduce:expand reduces:expands
started:stopped starts:stops stopped:started began:ended begins:ends
hired:fired launched:cancelled launch:cancel launches:cancels cancelled:launched canceled:launched
confirmed:denied confirm:deny confirms:denies denied:confirmed
welcomed:criticised welcomes:criticises criticised:welcomed criticized:welcomed
replaced:kept replace:keep replaces:keeps saves:costs save:cost
higher:lower lower:higher
""".split():
    _word, _opposite = _pair.split(":")
    _OPPOSITES[_word] = _opposite

# Not followed by an apostrophe: "won't" is a negation (below), not "won".
_OUTCOME = re.compile(r"\b(" + "|".join(sorted(_OPPOSITES, key=len, reverse=True)) + r")\b(?!['’])", re.IGNORECASE)
# An existing negation, removed: "will not rise" → "will rise", "didn't" → "did".
_NEGATED = re.compile(
    r"\b(will|would|did|does|do|is|are|was|were|has|have|had|can|could|should)\s+not\b"
    r"|\b(won|wouldn|didn|doesn|don|isn|aren|wasn|weren|hasn|haven|hadn|can|couldn|shouldn)['’]t\b"
    r"|\b(cannot)\b",
    re.IGNORECASE,
)
_CONTRACTIONS = {"won": "will", "can": "can", "cannot": "can"}
# The last resort: a statement made negative ("will carry" → "will not carry").
_AUXILIARY = re.compile(
    r"\b(will|would|is|are|was|were|can|could|should|must|has|have|had)\b(?!\s+not\b)", re.IGNORECASE
)


def _same_case(original: str, replacement: str) -> str:
    return replacement[:1].upper() + replacement[1:] if original[:1].isupper() else replacement


def _undo_negation(m: re.Match[str]) -> str:
    if m.group(1):
        return m.group(1)
    word = m.group(2) or m.group(3)
    positive = _CONTRACTIONS.get(word.lower(), word.lower().removesuffix("n"))
    return _same_case(word, positive)


def negate(answer: str) -> Corruption:
    """The first outcome in the answer turned into its opposite ("released" → "withdrew", "cut" →
    "raise", "will not rise" → "will rise"); failing those, the first auxiliary negated ("is" → "is not")."""
    found = [m for m in (_OUTCOME.search(answer), _NEGATED.search(answer)) if m]
    if found:
        m = min(found, key=lambda match: match.start())
        new = _same_case(m.group(0), _OPPOSITES[m.group(0).lower()]) if m.re is _OUTCOME else _undo_negation(m)
    else:
        m = _AUXILIARY.search(answer)
        if m is None:
            return Corruption(text=answer, changes=[])
        new = "cannot" if m.group(0).lower() == "can" else f"{m.group(0)} not"
        new = _same_case(m.group(0), new)
    return Corruption(text=answer[: m.start()] + new + answer[m.end() :], changes=[f"“{m.group(0)}” → “{new}”"])


# --- a number changed -----------------------------------------------------------------------------

_LABEL_NUMBER = re.compile(r"\s*:")


def change_one_number(answer: str, article: str) -> Corruption:
    """One number changed wherever it appears ("180" → "480"): the first the article also states
    (a true fact made false), else the first at all. Speaker labels ("HOST 1:") are not facts."""
    stated = set(numbers(article))
    tokens = [m for m in NUMBER.finditer(answer) if not _LABEL_NUMBER.match(answer, m.end())]
    if not tokens:
        return Corruption(text=answer, changes=[])
    chosen = next((m for m in tokens if set(numbers(m.group(0))) & stated), tokens[0]).group(0)
    new = change_number(chosen)
    pattern = re.compile(rf"(?<![\w.]){re.escape(chosen)}(?![\d])")
    return Corruption(text=pattern.sub(new, answer), changes=[f"{chosen} → {new}"])


# --- a name swapped ---------------------------------------------------------------------------------


# Capitalised, but dates rather than names: "Harborview → June" would be no name swap.
_CALENDAR = frozenset(
    "January February March April May June July August September October November December "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
)


def swap_one_name(answer: str, article: str) -> Corruption:
    """The answer's first name replaced wherever it appears: by the article's most mentioned other
    name (no month or weekday), else traded with the answer's second name, else an invented one."""
    names = proper_names(answer)
    if not names:
        return Corruption(text=answer, changes=[])
    first = names[0]
    words = set(first.split(" "))
    others = [
        n
        for n in proper_names(article)
        if n not in answer and not words & set(n.split(" ")) and n not in first and not _CALENDAR & set(n.split(" "))
    ]
    if others:
        # The most mentioned: a name the story is about, not one from a byline or an editor's note.
        mapping = {first: max(others, key=article.count)}
    elif len(names) > 1:
        mapping = {first: names[1], names[1]: first}
    else:
        mapping = {first: FALLBACK_NAME}
    alternatives = "|".join(re.escape(n) for n in sorted(mapping, key=len, reverse=True))
    text = re.sub(rf"\b({alternatives})\b", lambda m: mapping[m.group(0)], answer)
    return Corruption(text=text, changes=[f"{first} → {mapping[first]}"])


# --- an unsupported claim added ---------------------------------------------------------------------

# Plausible in a news summary, specific, and stated by no article: a judge reading against the
# article should count any of them against accuracy.
CLAIMS = (
    "Officials added that an independent review panel had backed the decision unanimously.",
    "Local businesses have already pledged to cover a third of the cost.",
    "A second project of the same kind is already being planned for next year.",
)
_FIRST_SENTENCE_END = re.compile(r"[.!?](?=\s)")


def add_claim(answer: str) -> Corruption:
    """One unsupported claim inserted after the answer's first sentence (chosen by the answer's hash)."""
    claim = CLAIMS[int(hashlib.sha256(answer.encode()).hexdigest()[:8], 16) % len(CLAIMS)]
    end = _FIRST_SENTENCE_END.search(answer)
    text = answer[: end.end()] + " " + claim + answer[end.end() :] if end else f"{answer.rstrip()} {claim}"
    return Corruption(text=text, changes=[f"added: “{claim}”"])


def plant(kind: ProbeKind, answer: str, article: str) -> Corruption:
    """The probe of this kind for one answer; ``changes`` is empty when the kind does not apply."""
    corruption = {
        "number": lambda: change_one_number(answer, article),
        "negation": lambda: negate(answer),
        "name": lambda: swap_one_name(answer, article),
        "claim": lambda: add_claim(answer),
    }[kind]()
    return corruption if corruption.text != answer else Corruption(text=answer, changes=[])


def probe_result(
    kind: ProbeKind, model_id: str, corruption: Corruption, originals: dict[str, Verdict], verdicts: dict[str, Verdict]
) -> dict[str, Any]:
    """One kind's check, judged as the control is (strictly below the original for every judge):
    ``passed`` True (caught), False (missed) or None (not applicable, or not measurable)."""
    if not corruption.changes:
        return {"passed": None, "applicable": False, "reason": f"nothing in the answer to plant {kind} into"}
    checked = control_result(model_id, corruption, originals, verdicts)
    result = {
        "passed": checked["passed"],
        "applicable": True,
        "change": corruption.description,
        "originalScore": checked["originalScore"],
        "probeScore": checked["controlScore"],
        "perJudge": checked["perJudge"],
    }
    if "reason" in checked:
        result["reason"] = checked["reason"].replace("the control check", "the probe")
    return result


def probes_health(kinds: list[ProbeKind], model_id: str, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``judgeHealth.probes``: per kind the check, and which kinds the judge caught and missed."""
    return {"kinds": list(kinds), "modelId": model_id, "results": results, **outcome(results)}
