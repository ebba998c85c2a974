"""Deterministic metrics beside the judge, and the statistics that measure the judge. No I/O.

Text metrics need no model: word count, compression ratio, numbers and proper names in an answer
that the article does not contain (a cheap hallucination signal), and ROUGE-L against the article.
Statistics (Pearson, Spearman, Kendall, mean absolute difference) run over a handful of values
(one per candidate model, at most five), so they are plain Python: scipy would add ~100 MB to a
layer whose limit is 250 MB unzipped, for arithmetic on five numbers.

Every function guards against empty or degenerate input and returns ``None`` where a figure is
undefined (no variance, fewer than two values) instead of a misleading 0.
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# --- tokens ------------------------------------------------------------------------------------

# A word: letters/digits, joined by inner apostrophes or hyphens; "2,300" and "31.4" are one word.
_WORD = re.compile(r"[^\W_]+(?:(?:['’\-]|(?<=\d)[.,](?=\d))[^\W_]+)*")
# ROUGE's tokenizer (as in the reference rouge-score package): lowercase, runs of [a-z0-9].
_ROUGE_TOKEN = re.compile(r"[a-z0-9]+")
# 2,300 · 31.4 · 1,900 · 2029 (a trailing full stop is not part of the number).
NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?(?![\d])")
_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
}


def words(text: str) -> list[str]:
    """Words as a reader counts them: letters or digits, with inner apostrophes and hyphens."""
    return _WORD.findall(text)


def word_count(text: str) -> int:
    return len(words(text))


def compression_ratio(answer: str, article: str) -> float | None:
    """Article words per answer word (Grusky et al., Newsroom): 4.0 means the answer is a quarter as
    long as the article. ``None`` for an empty answer."""
    n = word_count(answer)
    return round(_reference(article).word_count / n, 3) if n else None


# --- numbers -----------------------------------------------------------------------------------


def _canonical_number(token: str) -> str | None:
    try:
        value = Decimal(token.replace(",", ""))
    except InvalidOperation:
        return None
    return format(value.normalize(), "f")


def numbers(text: str) -> list[str]:
    """Numbers written in digits, canonical (``2,300`` → ``2300``, ``31.40`` → ``31.4``), in order."""
    out = [_canonical_number(m.group(0)) for m in NUMBER.finditer(text)]
    return [n for n in out if n is not None]


def unsupported_numbers(answer: str, article: str) -> list[str]:
    """Numbers in the answer that the article does not contain, first appearance order.

    The article side also counts spelled-out numbers ("seven" supports an answer's 7); the answer
    side checks digits only, so this is a cheap signal, not a fact check.
    """
    known = _reference(article).numbers
    return _unique([n for n in numbers(answer) if n not in known])


# --- proper names ------------------------------------------------------------------------------


# Capitalised only because they open a sentence: dropped from the front of a sentence-initial run.
_SENTENCE_OPENERS = frozenset(
    """
a an the this that these those it its he she they we you i our their his her my your
but and so or if when while after before as at in on of for from with by to under over instead
then now today yesterday tonight tomorrow also still yes no well oh hi hello welcome thanks thank
meanwhile however here there what who why how where which let okay great absolutely sure indeed
plus finally first second next last according supporters opponents residents others
""".split()
)


_POSSESSIVE = re.compile(r"['’]s$")


def _strip_possessive(word: str) -> str:
    return _POSSESSIVE.sub("", word)


def _is_capitalised(word: str) -> bool:
    # "Ortega", "McNally"; not "HOST" (a label) or "I" / "A" (single capitals).
    return len(word) > 1 and word[0].isupper() and not word.isupper()


def _sentence_start(text: str, start: int) -> bool:
    """True when the word at ``start`` opens a sentence, a line, or a line's dialogue (``HOST: Hi``)."""
    i = start - 1
    while i >= 0 and (text[i] in " \t\"'“”‘’([*_-–—"):
        i -= 1
    if i < 0:
        return True
    between = text[i + 1 : start]
    return text[i] in ".!?:;\n" or "\n" in between


def _followed_by_name(text: str, match: re.Match[str]) -> bool:
    following = _WORD.match(text, match.end() + 1) if text[match.end() : match.end() + 1] == " " else None
    return following is not None and _is_capitalised(following.group(0))


def proper_names(text: str) -> list[str]:
    """Runs of capitalised words that are names, in order of first appearance.

    A capitalised word inside a sentence is a name. A sentence's first word is capitalised anyway:
    a common opener ("The", "Welcome") is dropped from the front of its run; a lone first word
    counts only when it also appears capitalised inside a sentence elsewhere (``Ortega said ...``
    after ``... said Mayor Ortega``); a run of two or more ("Gull Island ferries ...") is a name.
    Possessive ``'s`` is removed.
    """
    found = list(_WORD.finditer(text))
    mid_sentence = {
        _strip_possessive(m.group(0))
        for m in found
        if _is_capitalised(m.group(0)) and not _sentence_start(text, m.start())
    }
    runs: list[list[str]] = []
    current: list[str] = []
    previous_end = -1
    for m in found:
        word = m.group(0)
        if not _is_capitalised(word):
            if current:
                runs.append(current)
            current, previous_end = [], -1
            continue
        bare = _strip_possessive(word)
        adjacent = previous_end >= 0 and text[previous_end : m.start()] == " "
        if current and not adjacent:
            runs.append(current)
            current = []
        at_start = not current and _sentence_start(text, m.start())
        if at_start and (
            bare.lower() in _SENTENCE_OPENERS or (bare not in mid_sentence and not _followed_by_name(text, m))
        ):
            previous_end = -1
            continue
        current.append(bare)
        previous_end = m.end()
        if bare != word:  # a possessive ends the name: "Gull Island's ferry"
            runs.append(current)
            current, previous_end = [], -1
    if current:
        runs.append(current)
    return _unique([" ".join(run) for run in runs])


def unsupported_names(answer: str, article: str) -> list[str]:
    """Names in the answer with a word that never appears in the article (case-sensitive).

    Word by word, so "Mayor Ortega" is supported by "Mayor Lucinda Ortega"; the price is that two
    real names swapped ("Derek Ortega") pass. A podcast host the model invented shows up here too,
    which is what a reader wants to see.
    """
    article_words = _reference(article).words
    return [name for name in proper_names(answer) if any(w not in article_words for w in name.split(" "))]


# --- ROUGE-L -----------------------------------------------------------------------------------


def rouge_tokens(text: str) -> list[str]:
    return _ROUGE_TOKEN.findall(text.lower())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Crochemore et al. 2001).

    Each bit of ``v`` stands for a position of ``a``; one pass over ``b`` costs a few big-integer
    operations, so an 8,000-word article against an 800-word answer takes milliseconds instead of
    the 6.4 million steps of the textbook table.
    """
    if not a or not b:
        return 0
    return _lcs_from_masks(_position_masks(a), len(a), b)


def _position_masks(a: Sequence[str]) -> dict[str, int]:
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    return masks


def _lcs_from_masks(masks: dict[str, int], length: int, b: Sequence[str]) -> int:
    full = (1 << length) - 1
    v = full
    for token in b:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return length - bin(v).count("1")


def rouge_l(answer: str, article: str) -> float | None:
    """ROUGE-L F1 of the answer against the article, as the rouge-score package computes it
    (lowercased alphanumeric tokens, no stemming). ``None`` when either text has no tokens."""
    candidate, reference = rouge_tokens(answer), _reference(article)
    if not candidate or not reference.rouge_length:
        return None
    lcs = _lcs_from_masks(reference.rouge_masks, reference.rouge_length, candidate)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(candidate), lcs / reference.rouge_length
    return round(2 * precision * recall / (precision + recall), 4)


@dataclass(frozen=True)
class _Reference:
    """What every metric needs from the article, computed once per article: the score step measures
    every candidate's answer against the same article, and this was most of the metrics' time."""

    word_count: int
    numbers: frozenset[str]  # digits, and spelled-out numbers as digits
    words: frozenset[str]  # possessive 's removed
    rouge_length: int
    rouge_masks: dict[str, int]


@functools.lru_cache(maxsize=32)
def _reference(article: str) -> _Reference:
    article_words = words(article)
    spelled = {str(_NUMBER_WORDS[w.lower()]) for w in article_words if w.lower() in _NUMBER_WORDS}
    tokens = rouge_tokens(article)
    return _Reference(
        word_count=len(article_words),
        numbers=frozenset(numbers(article)) | spelled,
        words=frozenset(_strip_possessive(w) for w in article_words),
        rouge_length=len(tokens),
        rouge_masks=_position_masks(tokens),
    )


# --- against a reference answer ----------------------------------------------------------------

# SQuAD's answer normalisation (Rajpurkar et al. 2016, the official evaluate-v1.1 script): lowercase,
# punctuation removed, the articles a / an / the removed, whitespace collapsed.
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_tokens(text: str) -> list[str]:
    """The tokens SQuAD's F1 compares: ``normalize_answer(text).split()``."""
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split()


def token_f1(answer: str, reference: str) -> float | None:
    """SQuAD's token F1 of the answer against the reference: the harmonic mean of the share of the
    answer's tokens found in the reference and of the reference's found in the answer, counting each
    token as often as both have it. ``None`` when either side has no token (SQuAD scores that case
    1 or 0 by exact match; a missing figure is clearer here)."""
    candidate, gold = squad_tokens(answer), squad_tokens(reference)
    if not candidate or not gold:
        return None
    common = sum((Counter(candidate) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(candidate), common / len(gold)
    return round(2 * precision * recall / (precision + recall), 4)


def reference_metrics(answer: str, reference: str) -> dict[str, float | None]:
    """How close the answer is to the reference answer: ROUGE-L F1 (word order kept) and token F1
    (bag of words), both 0-1."""
    return {"rougeL": rouge_l(answer, reference), "tokenF1": token_f1(answer, reference)}


def text_metrics(answer: str, article: str, reference: str | None = None) -> dict[str, Any]:
    """All deterministic metrics of one answer, keyed as ``scores.json`` shows them; with a reference
    answer also ``reference`` (its ROUGE-L and token F1 against the answer)."""
    return {
        "wordCount": word_count(answer),
        "compressionRatio": compression_ratio(answer, article),
        "unsupportedNumbers": unsupported_numbers(answer, article),
        "unsupportedNames": unsupported_names(answer, article),
        "rougeL": rouge_l(answer, article),
        **({"reference": reference_metrics(answer, reference)} if reference is not None else {}),
    }


# --- statistics --------------------------------------------------------------------------------


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def mean_abs_diff(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Mean of |x - y| over paired values."""
    _check_paired(xs, ys)
    return sum(abs(x - y) for x, y in zip(xs, ys, strict=True)) / len(xs) if xs else None


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r; ``None`` with fewer than two pairs or when either side has no variance."""
    _check_paired(xs, ys)
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties given the mean of the ranks they span (``[5, 7, 7]`` → ``[1, 2.5, 2.5]``)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rho: Pearson's r over the ranks (ties get mean ranks)."""
    _check_paired(xs, ys)
    return pearson(ranks(xs), ranks(ys))


def kendall(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Kendall's tau-b (tie-corrected); ``None`` when either side is constant or n < 2."""
    _check_paired(xs, ys)
    n = len(xs)
    concordant = discordant = ties_x = ties_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = xs[i] - xs[j], ys[i] - ys[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    if denominator == 0:
        return None
    return (concordant - discordant) / denominator


def _check_paired(xs: Sequence[float], ys: Sequence[float]) -> None:
    if len(xs) != len(ys):
        raise ValueError(f"paired statistics need equal lengths, got {len(xs)} and {len(ys)}")


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
