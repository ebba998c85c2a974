"""Write the field tables of ``docs/report-schema.md`` from ``Report.model_json_schema()`` (and the table
of a ``results.jsonl`` line from ``ItemResult``'s).

The doc's prose (versioning, conventions, results.csv, the index, the HTML) is written by hand; the part
between each ``GENERATED`` marker and the ``END GENERATED`` after it is this script's output: one table
per object reachable from ``Report``, with each field's JSON type, whether it is always present, and its
description; then ``ItemResult``'s own table (the objects it shares with ``Report`` link to theirs). A
unit test runs ``--check``, so a field added to either model without regenerating fails the suite.

usage: python tools/dev/report_schema.py [--check]    (exit 0 written / current, 1 stale)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bakeoff.item_results import ItemResult
from bakeoff.report import Report

DOC = Path(__file__).resolve().parents[2] / "docs" / "report-schema.md"
BEGIN = "<!-- GENERATED from Report.model_json_schema() by tools/dev/report_schema.py: do not edit by hand -->"
LINE_BEGIN = "<!-- GENERATED from ItemResult.model_json_schema() by tools/dev/report_schema.py: do not edit by hand -->"
END = "<!-- END GENERATED -->"


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _anchor(name: str) -> str:
    return name.lower()


def _type(schema: dict[str, Any]) -> str:
    """A JSON schema type as one short line: ``string \\| null``, ``list of ModelEntry``..."""
    if "$ref" in schema:
        name = _name(schema["$ref"])
        return f"[{name}](#{_anchor(name)})"
    if "anyOf" in schema:
        return " \\| ".join(_type(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}" if schema.get("items") else "list"
    if kind == "object":
        values = schema.get("additionalProperties")
        return f"object of {_type(values)}" if isinstance(values, dict) and values else "object"
    return {"integer": "int", "number": "float", "boolean": "bool"}.get(kind, kind or "any")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _table(name: str, schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [_cell(schema["description"]), ""]
    lines += ["| Field | Type | Present | Notes |", "| --- | --- | --- | --- |"]
    for field, spec in schema.get("properties", {}).items():
        present = "always" if field in required else "optional"
        lines.append(f"| `{field}` | {_type(spec)} | {present} | {_cell(spec.get('description', ''))} |")
    return [*lines, ""]


def _refs(schema: Any) -> list[str]:
    """The names of the definitions a schema refers to, in order of first mention."""
    found: list[str] = []
    if isinstance(schema, dict):
        if "$ref" in schema:
            found.append(_name(schema["$ref"]))
        for value in schema.values():
            found += _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            found += _refs(value)
    return found


def generated() -> str:
    """The tables, ``Report`` first, then every object it reaches in the order they are first met."""
    schema = Report.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})
    order, queue = ["Report"], _refs(schema)
    while queue:
        name = queue.pop(0)
        if name not in order:
            order.append(name)
            queue += _refs(definitions[name])
    lines: list[str] = []
    for name in order:
        lines += _table(name, schema if name == "Report" else definitions[name])
    return "\n".join(lines).rstrip() + "\n"


def line_table() -> str:
    """``ItemResult``'s table alone: every object it refers to is one of ``Report``'s, tabled above."""
    return "\n".join(_table("ItemResult", ItemResult.model_json_schema(by_alias=True))).rstrip() + "\n"


def _replaced(doc: str, begin_marker: str, text: str) -> str:
    head, begin, rest = doc.partition(begin_marker)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise SystemExit(f"{DOC}: the {begin_marker!r} and {END!r} markers are missing")
    return f"{head}{begin_marker}\n\n{text}\n{END}{tail}"


def updated(doc: str) -> str:
    return _replaced(_replaced(doc, BEGIN, generated()), LINE_BEGIN, line_table())


def main(argv: list[str]) -> int:
    doc = DOC.read_text(encoding="utf-8")
    new = updated(doc)
    if "--check" in argv:
        if new != doc:
            print(f"{DOC} is stale: run python tools/dev/report_schema.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
