"""The base of every S3 document one step writes and another reads (``scores.json``, ``report.json``).

A document is written from its model and read back into it, never built or read as a loose dict.
Two rules make that safe:

- Unknown fields are errors (``extra="forbid"``): a field a writer adds without adding it to the
  model would otherwise vanish silently on the next read-and-write.
- ``dump()`` writes a field whose value is ``None`` only when the document says so: a field with no
  default (``weightedScore: float | None``) is always written, ``null`` included, because readers
  rely on the key; an optional field (``= None``) is written as ``null`` when it was given as
  ``None`` explicitly and left out when it was never given. So a document read from JSON dumps back
  to the same keys, and a builder decides presence by what it passes.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, SerializationInfo, SerializerFunctionWrapHandler, model_serializer
from pydantic.alias_generators import to_camel

from bakeoff.models import Contract


class Document(Contract):
    """A JSON document in S3 with a fixed set of camelCase fields (see the module docstring)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    @model_serializer(mode="wrap")
    def _keep_given_nulls(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if not info.exclude_none or not isinstance(data, dict):
            return data
        given = self.model_fields_set
        kept: dict[str, Any] = {}
        for name, field in type(self).model_fields.items():
            key = field.alias if info.by_alias and field.alias else name
            if key in data:
                kept[key] = data[key]
            elif getattr(self, name) is None and (field.is_required() or name in given):
                kept[key] = None
        return kept
