"""The Converse wire format: response bodies and errors shaped exactly as Amazon Bedrock Runtime sends them.

Everything here is plain dicts and one exception class, so a backend (real or scripted) can build replies
without knowing anything about HTTP.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

# HTTP status per Bedrock Runtime error type, as declared in the bedrock-runtime service model.
# botocore picks the exception class from the `x-amzn-ErrorType` header; the status decides what it retries.
STATUS_BY_ERROR_TYPE: dict[str, int] = {
    "ValidationException": 400,
    "ServiceQuotaExceededException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "ModelErrorException": 424,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}

STOP_REASONS = frozenset(
    {"end_turn", "tool_use", "max_tokens", "stop_sequence", "guardrail_intervened", "content_filtered"}
)

# Bedrock's own wording, so clients that match on messages behave the same here.
INVALID_MODEL_MESSAGE = "The provided model identifier is invalid."
THROTTLED_MESSAGE = "Too many requests, please wait before trying again."


class ConverseError(Exception):
    """An error reply: HTTP `status`, Bedrock `error_type` (the botocore exception name) and `message`."""

    def __init__(self, error_type: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.status = status if status is not None else STATUS_BY_ERROR_TYPE.get(error_type, 500)

    def __repr__(self) -> str:
        return f"ConverseError({self.error_type!r}, {self.message!r}, status={self.status})"


def validation_error(message: str) -> ConverseError:
    return ConverseError("ValidationException", message)


def invalid_model_error(model_id: str) -> ConverseError:
    """What Bedrock's Converse answers for a model ID it does not know: 400 ValidationException."""
    return ConverseError("ValidationException", INVALID_MODEL_MESSAGE)


def throttling_error(message: str = THROTTLED_MESSAGE) -> ConverseError:
    return ConverseError("ThrottlingException", message)


def error_body(error: ConverseError) -> dict[str, str]:
    return {"message": error.message}


def _usage(input_tokens: int, output_tokens: int, cache: tuple[int, int] | None = None) -> dict[str, int]:
    """Bedrock's usage block. With prompt caching (``cache`` = tokens read from and written to the cache, for
    a request that had a cachePoint), ``inputTokens`` is only the rest of the input and ``totalTokens``
    counts all four."""
    usage = {
        "inputTokens": int(input_tokens),
        "outputTokens": int(output_tokens),
        "totalTokens": int(input_tokens) + int(output_tokens),
    }
    if cache is not None:
        read, write = int(cache[0]), int(cache[1])
        usage.update(
            cacheReadInputTokens=read, cacheWriteInputTokens=write, totalTokens=usage["totalTokens"] + read + write
        )
    return usage


def _response(content: list[dict[str, Any]], stop_reason: str, usage: dict, latency_ms: int) -> dict:
    if stop_reason not in STOP_REASONS:
        raise ValueError(f"unknown Converse stopReason {stop_reason!r}; expected one of {sorted(STOP_REASONS)}")
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason,
        "usage": usage,
        "metrics": {"latencyMs": int(latency_ms)},
    }


def text_response(
    text: str,
    *,
    input_tokens: int,
    output_tokens: int,
    stop_reason: str = "end_turn",
    latency_ms: int = 0,
    cache: tuple[int, int] | None = None,
) -> dict:
    """A Converse reply whose assistant message is one text block (``cache``: see ``_usage``)."""
    return _response([{"text": text}], stop_reason, _usage(input_tokens, output_tokens, cache), latency_ms)


def new_tool_use_id() -> str:
    """An ID shaped like Bedrock's (`tooluse_` + 22 URL-safe characters)."""
    alphabet = string.ascii_letters + string.digits + "-_"
    return "tooluse_" + "".join(secrets.choice(alphabet) for _ in range(22))


def tool_response(
    name: str,
    tool_input: dict,
    *,
    input_tokens: int,
    output_tokens: int,
    tool_use_id: str | None = None,
    latency_ms: int = 0,
    cache: tuple[int, int] | None = None,
) -> dict:
    """A Converse reply whose assistant message is one toolUse block, with `stopReason: tool_use`."""
    block = {"toolUse": {"toolUseId": tool_use_id or new_tool_use_id(), "name": name, "input": tool_input}}
    return _response([block], "tool_use", _usage(input_tokens, output_tokens, cache), latency_ms)


def empty_response(*, input_tokens: int, latency_ms: int = 0) -> dict:
    """A reply with no content blocks at all, as Bedrock sends when a model ends its turn at once."""
    return _response([], "end_turn", _usage(input_tokens, 0), latency_ms)


# --- reading requests ---------------------------------------------------------------------------------


def validate_request(body: Any) -> dict:
    """Check the shape every Converse request must have; raise ValidationException otherwise."""
    if not isinstance(body, dict):
        raise validation_error("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise validation_error("The request must contain a non-empty 'messages' list.")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise validation_error(f"messages.{index}: role must be 'user' or 'assistant'.")
        if not isinstance(message.get("content"), list):
            raise validation_error(f"messages.{index}: content must be a list of content blocks.")
    if messages[0]["role"] != "user":
        raise validation_error("A conversation must start with a user message.")
    for previous, current in zip(messages, messages[1:], strict=False):
        if previous["role"] == current["role"]:
            raise validation_error("A conversation must alternate between user and assistant roles.")
    for key in ("system", "inferenceConfig", "toolConfig"):
        if key in body and not isinstance(body[key], list if key == "system" else dict):
            raise validation_error(f"'{key}' has the wrong type.")
    return body


def system_text(request: dict) -> str:
    """The system prompt: the text of all `system` blocks joined by blank lines."""
    return "\n\n".join(block["text"] for block in request.get("system") or [] if "text" in block)


def message_text(message: dict) -> str:
    """The text blocks of one message joined together (other block types are ignored)."""
    return "".join(block["text"] for block in message.get("content", []) if "text" in block)


def cache_prefix(request: dict) -> tuple[list[dict], list[dict]] | None:
    """The request cut at its last ``cachePoint`` block: (system blocks, messages) up to it, or None when
    it has none. Bedrock caches the prompt prefix before a checkpoint (tools, then system, then messages)."""
    messages = request.get("messages") or []
    for index in range(len(messages) - 1, -1, -1):
        content = messages[index].get("content") or []
        points = [i for i, block in enumerate(content) if "cachePoint" in block]
        if points:
            cut = {**messages[index], "content": content[: points[-1]]}
            return list(request.get("system") or []), [*messages[:index], cut]
    system = list(request.get("system") or [])
    points = [i for i, block in enumerate(system) if "cachePoint" in block]
    return (system[: points[-1]], []) if points else None


def last_user_text(request: dict) -> str:
    for message in reversed(request.get("messages", [])):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def forced_tools(request: dict) -> list[dict]:
    """The toolSpecs the model must call one of; empty when it may answer freely.

    `toolChoice: {"tool": {"name": X}}` gives [X]; `{"any": {}}` gives every offered tool; `auto` or no
    choice gives []. A named tool that is not offered is a ValidationException, as on Bedrock.
    """
    config = request.get("toolConfig") or {}
    specs = [tool["toolSpec"] for tool in config.get("tools", []) if "toolSpec" in tool]
    choice = config.get("toolChoice") or {}
    if "tool" in choice:
        name = (choice["tool"] or {}).get("name")
        named = [spec for spec in specs if spec.get("name") == name]
        if not named:
            raise validation_error(f"toolChoice names tool '{name}', which is not in toolConfig.tools.")
        return named[:1]
    if "any" in choice:
        if not specs:
            raise validation_error("toolChoice 'any' needs at least one tool in toolConfig.tools.")
        return specs
    return []


def tool_schema(spec: dict) -> dict:
    """The JSON schema of a toolSpec's input (`inputSchema.json`)."""
    schema = (spec.get("inputSchema") or {}).get("json")
    if not isinstance(schema, dict):
        raise validation_error(f"Tool '{spec.get('name')}' has no inputSchema.json object.")
    return schema
