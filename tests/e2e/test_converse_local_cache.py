"""The local Converse endpoint honours ``cachePoint`` (issue 19): with a real local model behind it, a request
that repeats the last call's prefix reports it as ``cacheReadInputTokens``, a new prefix as
``cacheWriteInputTokens``, ``inputTokens`` only the rest, and ``totalTokens`` all of them, as Bedrock does;
a request without a cachePoint reports no cache fields. Through a real boto3 client, so botocore keeps them."""

from __future__ import annotations

import importlib.util

import pytest

from converse_local import catalog
from converse_local.server import ConverseServer
from tests.support.converse_fakes import bedrock_client

SMOL = "local.smollm2-135m-instruct-v1:0"
pytestmark = [
    pytest.mark.llama,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed"),
    pytest.mark.skipif(not catalog.is_installed(SMOL), reason="the SmolLM2 model wheel is not installed"),
]
CACHE_POINT = {"cachePoint": {"type": "default"}}
ARTICLE = (
    "The Harborview council voted 7 to 2 to replace the Pelham Street ferry with an electric boat "
    "for 180 passengers and 24 cars, in service from 2029. "
) * 6


@pytest.fixture(scope="module")
def client():
    from converse_local.llama_backend import LlamaBackend

    with ConverseServer(LlamaBackend([SMOL])) as server:
        yield bedrock_client(server.url, read_timeout=120)


def ask(client, question: str, *, article: str = ARTICLE, cached: bool = True) -> dict:
    content = [{"text": f"<article>\n{article}\n</article>\n"}, *([CACHE_POINT] if cached else []), {"text": question}]
    return client.converse(
        modelId=SMOL,
        system=[{"text": "You answer in one short sentence."}],
        messages=[{"role": "user", "content": content}],
        inferenceConfig={"maxTokens": 8, "temperature": 0.0},
    )["usage"]


def test_a_repeated_prefix_is_read_from_the_cache_and_a_new_one_written(client):
    # Given a first call with a cachePoint after the article
    first = ask(client, "How many passengers?")
    # Then its prefix was written to the cache, and only the question counts as plain input
    assert first["cacheReadInputTokens"] == 0 and first["cacheWriteInputTokens"] > 100
    assert first["inputTokens"] < 40
    assert first["totalTokens"] == (
        first["inputTokens"] + first["outputTokens"] + first["cacheReadInputTokens"] + first["cacheWriteInputTokens"]
    )
    # When the next call shares that prefix
    second = ask(client, "When does it enter service?")
    # Then the same tokens are read from the cache instead
    assert second["cacheWriteInputTokens"] == 0
    assert second["cacheReadInputTokens"] == first["cacheWriteInputTokens"]
    # and a different article is a new prefix: written again
    third = ask(client, "How many passengers?", article=ARTICLE.replace("Harborview", "Gull Island"))
    assert third["cacheReadInputTokens"] == 0 and third["cacheWriteInputTokens"] > 100


def test_without_a_cache_point_there_are_no_cache_fields(client):
    usage = ask(client, "How many cars?", cached=False)
    assert "cacheReadInputTokens" not in usage and "cacheWriteInputTokens" not in usage
    assert usage["inputTokens"] > 100
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]


def test_a_cache_point_in_the_system_prompt_counts_the_system_prompt(client):
    def call() -> dict:
        return client.converse(
            modelId=SMOL,
            system=[{"text": "You are terse. " * 40}, CACHE_POINT],
            messages=[{"role": "user", "content": [{"text": "Say hi."}]}],
            inferenceConfig={"maxTokens": 4, "temperature": 0.0},
        )["usage"]

    first, second = call(), call()
    assert first["cacheWriteInputTokens"] > 100 and second["cacheReadInputTokens"] == first["cacheWriteInputTokens"]
