"""A Converse endpoint with scripted latencies, for the benchmarks: candidates answer after a fixed
delay per model, the judge calls the forced ``record_verdict`` tool after its own delay.

Imported by the bench scripts (``bench/`` is their directory, so ``import scripted_endpoint`` finds it).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from converse_local import wire
from converse_local.server import ConverseServer

ROOT = Path(__file__).resolve().parents[1]
ENDPOINT_VAR = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
LLAMA = "meta.llama3-70b-instruct-v1:0"
MISTRAL = "mistral.mistral-large-2402-v1:0"
JUDGE = "amazon.nova-pro-v1:0"


class DelayedBackend:
    """``delays`` maps each candidate model ID to its answer time in seconds; any call carrying a
    ``toolConfig`` is a judge call and answers after ``judge_delay``. Scores are a deterministic
    function of the judged text, so a dataset run gives the statistics something to separate."""

    def __init__(self, delays: dict[str, float], judge_delay: float) -> None:
        self.delays = delays
        self.judge_delay = judge_delay

    def model_ids(self) -> list[str]:
        return [*self.delays, JUDGE]

    def converse(self, model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        if "toolConfig" in request:
            time.sleep(self.judge_delay)
            return self._verdict(request)
        if model_id not in self.delays:
            raise wire.invalid_model_error(model_id)
        time.sleep(self.delays[model_id])
        text = (
            f"HOST A: Harborview's council voted 7 to 2 for an electric ferry. HOST B: It carries 180 "
            f"passengers. Recap: a new ferry in 2029. ({model_id})"
        )
        return wire.text_response(text, input_tokens=1200, output_tokens=300)

    def _verdict(self, request: dict[str, Any]) -> dict[str, Any]:
        tool = request["toolConfig"]["tools"][0]["toolSpec"]
        properties = tool["inputSchema"]["json"]["properties"]
        digest = hashlib.sha256(json.dumps(request["messages"], sort_keys=True).encode()).digest()
        if "scores" not in properties:  # a pairwise preference, when a request asks for them
            return wire.tool_response(
                tool["name"], {"preferred": "A", "reason": "scripted"}, input_tokens=2000, output_tokens=50
            )
        criteria = list(properties["scores"]["properties"])
        scores = {
            name: {"reason": f"scripted reason for {name}", "score": 4 + digest[i] % 6}
            for i, name in enumerate(criteria)
        }
        return wire.tool_response(
            tool["name"],
            {"scores": scores, "evidence": ["The council voted 7 to 2"]},
            input_tokens=2000,
            output_tokens=150,
        )


def serve(delays: dict[str, float], judge_delay: float) -> ConverseServer:
    """A started ConverseServer around a DelayedBackend; ``server.calls`` counts calls per model."""
    return ConverseServer(DelayedBackend(delays, judge_delay)).start()


def judge_calls(server: ConverseServer) -> int:
    return sum(1 for _model, body in server.requests if "toolConfig" in body)


def sample_request(**changes: Any) -> dict[str, Any]:
    """The three-candidate Bedrock sample request, with ``changes`` applied."""
    request = json.loads((ROOT / "events/statemachine/podcast-bedrock.json").read_text(encoding="utf-8"))
    return request | changes


def write_dataset(path: Path, items: int) -> Path:
    """``items`` JSONL lines ``{id, article, reference}``: the sample article with the item's number."""
    article = sample_request()["article"]
    with path.open("w", encoding="utf-8") as out:
        for i in range(1, items + 1):
            out.write(
                json.dumps(
                    {
                        "id": f"item-{i:02d}",
                        "article": f"[Item {i}] {article}",
                        "reference": f"A reference summary for item {i}.",
                    }
                )
                + "\n"
            )
    return path


def peak_rss_mb(ru_maxrss_kb: int) -> float:
    return ru_maxrss_kb / 1024  # Linux reports ru_maxrss in KiB
