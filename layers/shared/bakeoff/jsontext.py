"""Strict JSON, read one way everywhere: the API's body, a dataset's lines, and the CLI's request files.

Two parsers reading one text differently is how a check gets bypassed (the CLI kept the last of two
``article`` keys, the API refused both), so every reader goes through ``parse_json``: standard JSON only
(no ``NaN`` or ``Infinity``), a key twice in one object is refused rather than resolved, and nesting too
deep for the parser is a refusal, not a crash. Standard library only: ``bakeoff submit`` runs in CI jobs
that install nothing else.
"""

from __future__ import annotations

import json
from typing import Any

from bakeoff.errors import RequestValidationError


def refusal(field: str, message: str) -> RequestValidationError:
    """A refusal of one field, as the API answers it (400 with ``errors: [{field, message}]``)."""
    return RequestValidationError(f"the request is invalid: {message}", errors=[{"field": field, "message": message}])


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str, *, what: str = "the body", field: str = "(body)", key_prefix: str = "") -> Any:
    """``text`` as JSON, or ``RequestValidationError`` naming the problem.

    ``what`` names the text in messages, ``field`` is the field a whole-text problem is reported on, and
    ``key_prefix`` goes before a duplicated key's name (``"dataset line 3: "``).
    """
    try:
        return json.loads(text, object_pairs_hook=_object_without_duplicates, parse_constant=_no_constants)
    except _DuplicateKeyError as exc:
        raise refusal(key_prefix + exc.key, "this key appears twice in one object; send it once") from None
    except RecursionError:
        raise refusal(field, "the JSON is nested too deeply") from None
    except ValueError as exc:
        raise refusal(field, f"{what} is not valid JSON: {exc}"[:300]) from None


def dump_utf8(value: Any) -> bytes:
    """``value`` as compact JSON in UTF-8, characters as themselves (``ensure_ascii=False``): a 50,000-
    character CJK article is 150 KB, not the 300 KB of ``\\uXXXX`` escapes that would pass no body limit.
    A string holding an unpaired UTF-16 surrogate cannot be UTF-8 and is refused as the API refuses it."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        raise refusal("(body)", "a string holds an unpaired UTF-16 surrogate (\\ud800-\\udfff)") from None
    except RecursionError:
        raise refusal("(body)", "the JSON is nested too deeply") from None
