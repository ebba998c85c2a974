"""Scripted misbehaviour per model ID, so clients can be tested against throttling, outages and bad output.

A `Fault` is plain configuration; the server keeps how many calls each fault has seen. Call numbers count
from the moment the fault was set, so `throttle_first=2` means "the next two calls are throttled".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from converse_local import wire


@dataclass(frozen=True)
class Fault:
    """What to do to calls of one model. All fields are optional and combine in this order:

    1. `delay_seconds`: wait this long before answering (whatever the answer is).
    2. `hang`: never answer; the connection is dropped when the server stops.
    3. `always_throttle`: every call gets 429 ThrottlingException.
    4. `throttle_first`: calls 1..N get 429 ThrottlingException.
    5. `fail_first`: the M calls after those get 500 InternalServerException.
    6. `empty_answer`: a reply with no content blocks.
    7. `malformed_tool_output`: a toolUse whose input violates the tool's schema when a tool call was
       forced, otherwise text that looks like JSON but does not parse.

    Replies made by 6 and 7 never reach the backend.
    """

    throttle_first: int = 0
    fail_first: int = 0
    always_throttle: bool = False
    delay_seconds: float = 0.0
    hang: bool = False
    malformed_tool_output: bool = False
    empty_answer: bool = False

    def __post_init__(self) -> None:
        if self.throttle_first < 0 or self.fail_first < 0 or self.delay_seconds < 0:
            raise ValueError(f"fault counts and delays must not be negative: {self}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Build from camelCase keys (`{"throttleFirst": 2, "delaySeconds": 0.5}`); unknown keys fail."""
        by_camel = {_camel(f.name): f.name for f in fields(cls)}
        unknown = sorted(set(data) - set(by_camel))
        if unknown:
            raise ValueError(f"unknown fault keys {unknown}; expected some of {sorted(by_camel)}")
        return cls(**{by_camel[key]: value for key, value in data.items()})

    def error_for_call(self, call_number: int) -> wire.ConverseError | None:
        """The error the `call_number`-th call (1-based) gets, if any."""
        if self.always_throttle or call_number <= self.throttle_first:
            return wire.throttling_error()
        if call_number <= self.throttle_first + self.fail_first:
            return wire.ConverseError("InternalServerException", "Injected internal failure.")
        return None

    @property
    def replaces_answer(self) -> bool:
        return self.empty_answer or self.malformed_tool_output


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def load_faults(path: str | Path) -> dict[str, Fault]:
    """Read `{modelId: {"throttleFirst": 2, ...}}` from a JSON file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object mapping model IDs to faults")
    return {model_id: Fault.from_dict(spec) for model_id, spec in data.items()}


# --- fabricated bad answers ----------------------------------------------------------------------------

_WRONG_VALUE_BY_TYPE: dict[str, Any] = {
    "string": 12345,
    "integer": "not a number",
    "number": "not a number",
    "boolean": "maybe",
    "array": "not a list",
    "object": "not an object",
    "null": "not null",
}


def _violating_input(schema: dict) -> dict:
    """An object that breaks `schema`: every declared property gets a value of the wrong type, and an
    undeclared property is added (which breaks `additionalProperties: false`, and `required` when the
    schema declares no properties)."""
    broken: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        if isinstance(kind, list):
            kind = kind[0] if kind else None
        broken[name] = _WRONG_VALUE_BY_TYPE.get(kind, None) if kind else None
    broken["unexpected_field"] = "injected by converse_local fault"
    return broken


def _estimated_tokens(request: dict) -> int:
    text = json.dumps(request.get("messages", [])) + wire.system_text(request)
    return max(1, len(re.findall(r"\w+|[^\w\s]", text)))


def fabricated_answer(fault: Fault, request: dict) -> dict:
    """The reply for `empty_answer` / `malformed_tool_output` (token counts are estimates)."""
    input_tokens = _estimated_tokens(request)
    if fault.empty_answer:
        return wire.empty_response(input_tokens=input_tokens)
    tools = wire.forced_tools(request)
    if tools:
        spec = tools[0]
        return wire.tool_response(
            spec["name"],
            _violating_input(wire.tool_schema(spec)),
            input_tokens=input_tokens,
            output_tokens=12,
        )
    return wire.text_response('{"answer": "this reply was cut off', input_tokens=input_tokens, output_tokens=8)
