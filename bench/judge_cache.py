"""Prompt caching on the local endpoint: the demo's judge calls with and without the prefix in the KV cache.

    .venv/bin/python bench/judge_cache.py [--runs 2] [--event events/statemachine/podcast-local.json]

The demo's judge (the event's judgeModelId) scores three answers and a control answer: four calls that share
tools, rubric, article and task, as the score step builds them (``functions.score.judge.Judge``, with its
cachePoint). Each run makes the four calls twice through ``LlamaBackend``, in alternating order:

- cached: as the endpoint always runs (the KV cache keeps the longest prefix a call shares with the last one,
  so calls 2-4 read only their answer; the first pays for the prefix: a cache write);
- uncached: the model's KV cache emptied before every call (``reuse_prefix=False``), so every call reads its
  whole prompt, as a model without prompt caching would.

The answers are fixed texts (no candidate is run) and every call writes at most 20 tokens with a fixed seed,
so both sides do the same decoding and differ only in prompt reading. Printed per side: the median total of
the four calls, the prompt-reading seconds, and the cache tokens the endpoint reported. Note: seconds depend
on what else the machine is doing; compare the two sides of one run, not runs of different days.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bakeoff.settings import Settings
from bakeoff.validation import validate_request
from converse_local.llama_backend import LlamaBackend
from functions.score.control import corrupt
from functions.score.judge import Judge

ROOT = Path(__file__).resolve().parents[1]
ANSWERS = [
    "HOST 1: Harborview's council voted 7 to 2 on Tuesday to replace the Pelham Street ferry.\nHOST 2: The "
    "electric boat carries 180 passengers and 24 cars, and should sail in spring 2029.\nHOST 1: Recap: 31.4 "
    "million dollars, 12 million from a state grant.",
    "HOST 1: Big news from Harborview: a new electric ferry!\nHOST 2: It will carry 180 passengers from 2029.",
    "Harborview will get an electric ferry, after a 7 to 2 vote.",
]


def judge_requests(event: dict) -> tuple[str, list[dict]]:
    evaluation = validate_request(
        event,
        evaluation_id="bench-judge-cache",
        created_at="2026-01-01T00:00:00+00:00",
        settings=Settings(BUCKET_NAME="bench", ALLOWED_MODEL_IDS=()),
    )
    judge = Judge(
        None,
        None,
        judge_model_id=evaluation.judge_model_id,
        criteria=evaluation.criteria,  # type: ignore[arg-type]
        article=event["article"],
        task_prompt=event["prompt"],
    )
    if not judge.caching:
        raise SystemExit(f"{judge.judge_model_id} gets no cachePoint (catalog promptCaching / cacheMinTokens)")
    texts = [*ANSWERS, corrupt(ANSWERS[0], event["article"]).text]
    requests = [judge.request(text, "ABCD"[i]) for i, text in enumerate(texts)]
    for request in requests:
        request["inferenceConfig"]["maxTokens"] = 20
        request["additionalModelRequestFields"] = {"seed": 7}
    return evaluation.judge_model_id, requests


def side(backend: LlamaBackend, model_id: str, requests: list[dict], log: Path) -> dict:
    log.write_text("")
    started = time.perf_counter()
    usages = [backend.converse(model_id, request)["usage"] for request in requests]
    seconds = time.perf_counter() - started
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return {
        "seconds": seconds,
        "promptSeconds": sum(c["promptSeconds"] for c in calls),
        "read": sum(u.get("cacheReadInputTokens", 0) for u in usages),
        "written": sum(u.get("cacheWriteInputTokens", 0) for u in usages),
        "input": sum(u["inputTokens"] for u in usages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--event", type=Path, default=ROOT / "events/statemachine/podcast-local.json")
    args = parser.parse_args()
    event = json.loads(args.event.read_text())
    model_id, requests = judge_requests(event)
    folder = Path(tempfile.mkdtemp(prefix="bench-judge-cache-"))
    log = folder / "calls.jsonl"
    # One model in memory for both sides: only whether the KV cache survives between calls differs.
    backend = LlamaBackend([model_id], call_log=log)
    backend.load_all()
    results: dict[str, list[dict]] = {"cached": [], "uncached": []}
    print(f"judge {model_id}: 4 calls (3 answers + control), {args.runs} run(s) per side", flush=True)
    try:
        for run in range(args.runs):
            for name in ("cached", "uncached") if run % 2 == 0 else ("uncached", "cached"):
                backend.reuse_prefix = name == "cached"
                row = side(backend, model_id, requests, log)
                results[name].append(row)
                print(
                    f"  run {run + 1} {name:9s} {row['seconds']:7.1f} s total, {row['promptSeconds']:6.1f} s "
                    f"reading prompts; tokens: {row['input']} uncached input, {row['read']} read from cache, "
                    f"{row['written']} written",
                    flush=True,
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    cached = statistics.median(r["seconds"] for r in results["cached"])
    uncached = statistics.median(r["seconds"] for r in results["uncached"])
    print(
        f"medians: cached {cached:.1f} s, uncached {uncached:.1f} s: saving {uncached - cached:.1f} s "
        f"({1 - cached / uncached:.0%} of the judge's time)"
    )


if __name__ == "__main__":
    main()
