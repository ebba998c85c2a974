"""What the handlers printed: the JSON objects in captured output (Powertools' logs, EMF metrics)."""

from __future__ import annotations

import json


def printed_objects(out: str, start: str) -> list[dict]:
    """Every JSON object in ``out`` that begins with ``start`` (e.g. ``'{"_aws"'``), even when threads
    printed two on one line: ``print`` writes the object and its newline separately."""
    decoder, records, index = json.JSONDecoder(), [], out.find(start)
    while index != -1:
        record, end = decoder.raw_decode(out, index)
        records.append(record)
        index = out.find(start, end)
    return records
