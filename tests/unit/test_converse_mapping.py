"""Converse errors become the named errors the ASL retries or catches; replies are read right."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from bakeoff import errors
from bakeoff.converse import (
    ConverseClient,
    Tool,
    build_request,
    last_json_object,
    map_client_error,
    parse_response,
)


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "boom"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Converse"
    )


@pytest.mark.parametrize(
    ("code", "status", "expected", "retryable"),
    [
        ("ThrottlingException", 429, errors.ModelThrottledError, True),
        ("ServiceQuotaExceededException", 400, errors.ModelThrottledError, True),
        ("ModelTimeoutException", 408, errors.ModelTimeoutError, True),
        ("InternalServerException", 500, errors.ModelServiceError, True),
        ("ServiceUnavailableException", 503, errors.ModelServiceError, True),
        ("ModelNotReadyException", 429, errors.ModelNotReadyError, True),
        ("AccessDeniedException", 403, errors.ModelAccessDeniedError, False),
        ("ResourceNotFoundException", 404, errors.ModelNotFoundError, False),
        ("ValidationException", 400, errors.InvalidModelRequestError, False),
        ("SomethingNew", 502, errors.ModelServiceError, True),
        ("SomethingNew", 400, errors.InvalidModelRequestError, False),
    ],
)
def test_error_mapping(code, status, expected, retryable):
    mapped = map_client_error(client_error(code, status), "m")
    assert type(mapped) is expected
    assert mapped.retryable is retryable
    assert mapped.details["code"] == code


def test_a_read_timeout_is_a_model_timeout():
    class Slow:
        def converse(self, **_):
            raise ReadTimeoutError(endpoint_url="http://x")

    with pytest.raises(errors.ModelTimeoutError):
        ConverseClient(Slow()).converse(build_request("m", system="s", messages=[], max_tokens=5, temperature=0))


def test_parse_text_and_tool_replies():
    text = parse_response(
        {
            "output": {"message": {"content": [{"text": "a"}, {"text": "b"}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 3, "outputTokens": 2},
        },
        12,
    )
    assert (text.text, text.stop_reason, text.usage.input_tokens, text.usage.output_tokens, text.latency_ms) == (
        "ab",
        "end_turn",
        3,
        2,
        12,
    )
    tool = parse_response(
        {
            "output": {"message": {"content": [{"toolUse": {"toolUseId": "t", "name": "n", "input": {"x": 1}}}]}},
            "stopReason": "tool_use",
            "usage": {},
        },
        1,
    )
    assert tool.tool_input == {"x": 1} and tool.usage.input_tokens == 0


def test_build_request_forces_the_tool():
    request = build_request(
        "m",
        system="sys",
        messages=[{"role": "user", "content": [{"text": "hi"}]}],
        max_tokens=10,
        temperature=0.0,
        tool=Tool("t", "d", {"type": "object"}),
    )
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": "t"}}
    assert request["system"] == [{"text": "sys"}]
    assert request["inferenceConfig"] == {"maxTokens": 10, "temperature": 0.0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('noise {"a": 1} more {"b": {"c": 2}} end', {"b": {"c": 2}}),
        ('```json\n{"scores": {}}\n```', {"scores": {}}),
        ("no json here", None),
        ('{"broken": ', None),
        ('[1, 2] {"ok": true}', {"ok": True}),
    ],
)
def test_last_json_object(text, expected):
    assert last_json_object(text) == expected
