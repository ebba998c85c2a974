"""A thin wrapper over the Bedrock Runtime Converse API.

It builds requests (checked by botocore's own parameter validation in the tests), reads the text
or the forced tool call out of the reply, measures latency, and turns Bedrock's exceptions into
the named errors the state machine retries or catches.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from bakeoff.errors import (
    BakeoffError,
    DeadlineExceededError,
    InvalidModelRequestError,
    ModelAccessDeniedError,
    ModelNotFoundError,
    ModelNotReadyError,
    ModelServiceError,
    ModelThrottledError,
    ModelTimeoutError,
)
from bakeoff.models import Usage

# Bedrock error code → our error class. Retryable ones are retried by the ASL, not by botocore.
ERROR_MAP: dict[str, type[BakeoffError]] = {
    "ThrottlingException": ModelThrottledError,
    "ServiceQuotaExceededException": ModelThrottledError,
    "TooManyRequestsException": ModelThrottledError,
    "ModelTimeoutException": ModelTimeoutError,
    "InternalServerException": ModelServiceError,
    "ServiceUnavailableException": ModelServiceError,
    "ModelErrorException": ModelServiceError,
    "ModelNotReadyException": ModelNotReadyError,
    "AccessDeniedException": ModelAccessDeniedError,
    "UnrecognizedClientException": ModelAccessDeniedError,
    "ResourceNotFoundException": ModelNotFoundError,
    "ValidationException": InvalidModelRequestError,
    "ModelStreamErrorException": ModelServiceError,
}


def client_config(connect_timeout: float, read_timeout: float) -> Config:
    """botocore config for Converse.

    One attempt only: the state machine's Retry (with jitter, visible in the execution history)
    owns retrying, so botocore's retries cannot stack under it into minutes of hidden waiting.
    Timeouts sit below the Lambda timeout so a silent model ends as ``ModelTimeoutError``.
    """
    return Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": 1},
    )


@dataclass(frozen=True)
class Tool:
    """A tool the model is forced to call: its ``input_schema`` is the reply's JSON schema."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass
class ConverseResult:
    text: str
    stop_reason: str
    usage: Usage
    latency_ms: int
    tool_input: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def build_request(
    model_id: str,
    *,
    system: str,
    messages: list[dict[str, Any]],
    max_tokens: int,
    temperature: float,
    tool: Tool | None = None,
    additional_fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``bedrock_runtime.converse``; ``additional_fields`` are the model's own
    inference parameters (``additionalModelRequestFields``, e.g. a sampling ``seed``)."""
    request: dict[str, Any] = {
        "modelId": model_id,
        "messages": messages,
        "inferenceConfig": {"maxTokens": max_tokens, "temperature": temperature},
    }
    if system:
        request["system"] = [{"text": system}]
    if additional_fields:
        request["additionalModelRequestFields"] = additional_fields
    if tool is not None:
        request["toolConfig"] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": tool.name,
                        "description": tool.description,
                        "inputSchema": {"json": tool.input_schema},
                    }
                }
            ],
            "toolChoice": {"tool": {"name": tool.name}},
        }
    return request


def user_message(text: str, *, cached_prefix: str | None = None) -> dict[str, Any]:
    """A user message; with ``cached_prefix``, that text first and a ``cachePoint`` after it, so the model
    caches everything up to there (tools, system prompt and this prefix) for the next call that shares it."""
    if cached_prefix is None:
        return {"role": "user", "content": [{"text": text}]}
    return {"role": "user", "content": [{"text": cached_prefix}, CACHE_POINT, {"text": text}]}


# Converse's prompt-caching checkpoint block (Bedrock's only type is "default"), accepted in ``system``
# and in message content; the cache covers the whole prompt prefix before it.
CACHE_POINT: dict[str, Any] = {"cachePoint": {"type": "default"}}


def map_client_error(exc: ClientError, model_id: str) -> BakeoffError:
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", str(exc))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    cls = ERROR_MAP.get(code)
    if cls is None:
        cls = ModelServiceError if (status or 0) >= 500 else InvalidModelRequestError
    return cls(f"{model_id}: {code or 'error'}: {message}", modelId=model_id, code=code, httpStatus=status)


# Under this many seconds before the deadline, a call is not started: it could not finish in time.
DEADLINE_MARGIN_SECONDS = 1.0


class ConverseClient:
    """Calls Converse through an injected boto3 ``bedrock-runtime`` client.

    ``until(deadline_at)`` gives a client for one evaluation: no call starts after its deadline
    (``DeadlineExceededError``, which no Retry repeats), and a call that would outlast it is given only
    the time left, so a model that never answers cannot hold the run past its deadline."""

    def __init__(self, client: Any, *, deadline: datetime | None = None) -> None:
        self._client = client
        self._deadline = deadline
        self._shorter: dict[int, Any] = {}  # read timeout (s) -> a client like ours with that timeout

    def until(self, deadline_at: str | None) -> ConverseClient:
        if not deadline_at:
            return self
        view = ConverseClient(self._client, deadline=datetime.fromisoformat(deadline_at))
        view._shorter = self._shorter  # shared: the few shorter clients are made once per container
        return view

    def _client_for_now(self, model_id: str) -> Any:
        if self._deadline is None:
            return self._client
        left = (self._deadline - datetime.now(UTC)).total_seconds()
        if left < DEADLINE_MARGIN_SECONDS:
            raise DeadlineExceededError(
                f"{model_id}: the evaluation's deadline ({self._deadline.isoformat()}) "
                "passed before this call; it was not made",
                modelId=model_id,
            )
        read_timeout = self._client.meta.config.read_timeout
        if left >= read_timeout:
            return self._client
        seconds = max(1, int(left))
        if seconds not in self._shorter:
            meta = self._client.meta
            self._shorter[seconds] = boto3.session.Session().client(
                "bedrock-runtime",
                region_name=meta.region_name,
                endpoint_url=meta.endpoint_url,
                config=meta.config.merge(Config(read_timeout=seconds)),
            )
        return self._shorter[seconds]

    def converse(self, request: dict[str, Any]) -> ConverseResult:
        model_id = request["modelId"]
        client = self._client_for_now(model_id)
        started = time.perf_counter()
        try:
            reply = client.converse(**request)
        except ClientError as exc:
            raise map_client_error(exc, model_id) from exc
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise ModelTimeoutError(f"{model_id}: no answer in time: {exc}", modelId=model_id) from exc
        except EndpointConnectionError as exc:
            raise ModelServiceError(f"{model_id}: endpoint unreachable: {exc}", modelId=model_id) from exc
        except BotoCoreError as exc:
            raise ModelServiceError(f"{model_id}: {exc}", modelId=model_id) from exc
        latency_ms = int((time.perf_counter() - started) * 1000)
        return parse_response(reply, latency_ms)


def parse_response(reply: dict[str, Any], latency_ms: int) -> ConverseResult:
    content = reply.get("output", {}).get("message", {}).get("content", []) or []
    texts = [block["text"] for block in content if "text" in block]
    tool_input = next((block["toolUse"].get("input") for block in content if "toolUse" in block), None)
    usage = reply.get("usage", {}) or {}
    return ConverseResult(
        text="".join(texts),
        stop_reason=reply.get("stopReason", "unknown"),
        usage=Usage(
            input_tokens=usage.get("inputTokens", 0),
            output_tokens=usage.get("outputTokens", 0),
            # Present only when the request had a cachePoint (and 0 is the same as absent).
            cache_read_input_tokens=usage.get("cacheReadInputTokens") or None,
            cache_write_input_tokens=usage.get("cacheWriteInputTokens") or None,
        ),
        # Wall time as the caller saw it (Bedrock's metrics.latencyMs stays in ``raw``).
        latency_ms=latency_ms,
        tool_input=tool_input if isinstance(tool_input, dict) else None,
        raw={k: v for k, v in reply.items() if k != "ResponseMetadata"},
    )


def last_json_object(text: str) -> dict[str, Any] | None:
    """The last top-level JSON object in free text (for judges without tool use)."""
    decoder = json.JSONDecoder()
    found: dict[str, Any] | None = None
    index = text.find("{")
    while index != -1:
        try:
            value, end = decoder.raw_decode(text, index)
        except ValueError:
            index = text.find("{", index + 1)
            continue
        if isinstance(value, dict):
            found = value
        index = text.find("{", end)
    return found
