"""Local endpoint overhead: tokens/s through the Converse endpoint vs raw llama-cpp-python.

    .venv/bin/python bench/endpoint_overhead.py [--runs 5] [--max-tokens 200] [--threads N]

The same prompt to the same model (SmolLM2 135M, ``local.smollm2-135m-instruct-v1:0``) with the
same threads and sampling (temperature 0.2, top_p 0.95, top_k 40, repeat penalty 1.1, fixed seed):

- endpoint: a real boto3 ``bedrock-runtime`` client calling ``converse`` on an in-process
  ``ConverseServer`` around ``LlamaBackend`` (HTTP, JSON, the Converse mapping, its token loop);
- raw: ``llama_cpp.Llama.create_chat_completion`` on the same GGUF file.

Each side loads its own copy of the model once; runs alternate (endpoint, raw, endpoint, ...) so
that load on the machine hits both alike. A run's figure is output tokens / wall time of the call
(prompt processing included, on both sides); the medians are compared. Target: <= 5% slower.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import boto3
from botocore.config import Config

from converse_local import catalog
from converse_local.llama_backend import DEFAULT_TOP_K, DEFAULT_TOP_P, TEXT_REPEAT_PENALTY, LlamaBackend
from converse_local.server import ConverseServer

MODEL = "local.smollm2-135m-instruct-v1:0"
TEMPERATURE = 0.2
SEED = 42
TARGET = 0.05
SYSTEM = "You are a podcast script writer. Write lively two-host dialogue; use only facts you are given."
USER = (
    "Write a podcast segment about this news: the Harborview council voted 7 to 2 to replace the town's "
    "94-year-old ferry with an electric vessel that carries 180 passengers and 24 cars, enters service "
    "in 2029 and costs 31.4 million dollars, 12 million of it from a state grant."
)


def through_endpoint(client, max_tokens: int) -> tuple[int, float]:
    started = time.perf_counter()
    reply = client.converse(
        modelId=MODEL,
        system=[{"text": SYSTEM}],
        messages=[{"role": "user", "content": [{"text": USER}]}],
        inferenceConfig={"maxTokens": max_tokens, "temperature": TEMPERATURE, "topP": DEFAULT_TOP_P},
        additionalModelRequestFields={"seed": SEED, "top_k": DEFAULT_TOP_K},
    )
    return reply["usage"]["outputTokens"], time.perf_counter() - started


def raw(llm, max_tokens: int) -> tuple[int, float]:
    started = time.perf_counter()
    reply = llm.create_chat_completion(
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
        max_tokens=max_tokens,
        temperature=TEMPERATURE,
        top_p=DEFAULT_TOP_P,
        top_k=DEFAULT_TOP_K,
        repeat_penalty=TEXT_REPEAT_PENALTY,
        seed=SEED,
    )
    return reply["usage"]["completion_tokens"], time.perf_counter() - started


def main() -> int:
    import llama_cpp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    backend = LlamaBackend([MODEL], n_threads=args.threads)
    backend.load_all()
    llm = llama_cpp.Llama(
        model_path=str(catalog.gguf_path(MODEL)), n_ctx=catalog.get(MODEL).n_ctx, n_threads=args.threads, verbose=False
    )
    figures: dict[str, list[tuple[int, float]]] = {"endpoint": [], "raw": []}
    with ConverseServer(backend) as server:
        client = boto3.client(
            "bedrock-runtime",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(retries={"total_max_attempts": 1}, read_timeout=600),
        )
        through_endpoint(client, 16), raw(llm, 16)  # warm both: first-call allocations, page cache
        for _ in range(args.runs):
            figures["endpoint"].append(through_endpoint(client, args.max_tokens))
            figures["raw"].append(raw(llm, args.max_tokens))

    print(f"{MODEL}, {args.threads} threads, max {args.max_tokens} tokens, {args.runs} runs each, alternating")
    medians = {}
    for side, runs in figures.items():
        rates = [tokens / seconds for tokens, seconds in runs]
        medians[side] = statistics.median(rates)
        print(
            f"  {side:8} median {medians[side]:6.1f} tokens/s   runs: "
            + ", ".join(f"{t} tok/{s:.2f}s" for t, s in runs)
        )
    slower = 1 - medians["endpoint"] / medians["raw"]
    meets = slower <= TARGET
    print(f"  endpoint is {slower:+.1%} slower than raw (target <= {TARGET:.0%}): {'meets' if meets else 'MISSES'}")
    return 0 if meets else 1


if __name__ == "__main__":
    raise SystemExit(main())
