"""Is there anything to read? Text a person would see as empty is refused before any model is called.

A field passes ``min_length`` with 200 spaces, zero-width spaces, NULs, a run of combining marks or of
right-to-left marks; every model would be paid to answer nothing. After Unicode NFKC normalisation
(which also folds compatibility forms: a full-width space is a space), a field is empty unless at least
one character is visible: not whitespace, not a control, format (zero-width, bidi) or unassigned
character, not a combining mark on its own, and not one of the letters that render blank.
"""

from __future__ import annotations

import unicodedata

# Categories with no visible glyph of their own: separators, controls, format characters (zero-width
# and bidi marks, tags), surrogates, unassigned code points, and marks (they only decorate a base).
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Cn", "Mn", "Mc", "Me"})
# Assigned as letters or symbols, drawn as nothing: the Hangul fillers and the blank Braille pattern.
_BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")

BLANK_MESSAGE = (
    "has no visible character (only spaces, zero-width or control characters, combining marks "
    "or direction marks): write the text itself"
)


def has_visible_text(text: str) -> bool:
    """True when ``text``, NFKC-normalised, has at least one character a reader would see."""
    return any(
        not ch.isspace() and ch not in _BLANK_CHARACTERS and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES
        for ch in unicodedata.normalize("NFKC", text)
    )


def visible(text: str | None) -> str | None:
    """A pydantic ``AfterValidator``: the text unchanged, or ``ValueError`` when nothing in it is visible."""
    if text is not None and not has_visible_text(text):
        raise ValueError(BLANK_MESSAGE)
    return text
