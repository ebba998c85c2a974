"""The demo, timed: `make demo`'s command, its phases, every model call, and the physical limit.

    .venv/bin/python bench/demo.py [--runs 1] [--event events/statemachine/demo-local.json] [--no-raw]
                                   [--env CONVERSE_LOCAL_MAX_PARALLEL=2 --env CONVERSE_LOCAL_THREADS=1]

Runs `bakeoff local run EVENT --no-checkpoints` as a user does (a new process, fresh answers, the
models installed) with the local endpoint writing one line per model call (CONVERSE_LOCAL_CALL_LOG).
Prints, per run: the wall time against the 60 s target; the phases (start-up and model loading,
candidates, judge, the rest); and every call's tokens in (of them reused from the KV cache), tokens out
and seconds.

The physical limit: the same work through raw llama-cpp-python on this machine, in this process: each
model loaded once, then for each logged call, a prompt of as many tokens as the endpoint had to read
(input minus reused) evaluated in one batch, and as many tokens generated one by one (greedy, no
grammar, no HTTP, no state machine). Its sum, with the load times, over the demo's wall time is the
ratio printed: 1.0 would mean Bakeoff adds nothing to what llama.cpp must do anyway.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 60.0


def run_demo(event: Path, extra_env: dict[str, str]) -> tuple[float, int, list[dict], dict]:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "calls.jsonl"
        env = os.environ | extra_env | {"CONVERSE_LOCAL_CALL_LOG": str(log), "CI": "1"}
        env.pop("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", None)
        command = [
            str(ROOT / ".venv" / "bin" / "bakeoff"),
            "local",
            "run",
            str(event),
            "--out",
            tmp,
            "--no-checkpoints",
            "--no-open",
        ]
        started = time.time()
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.time() - started
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        reports = list(Path(tmp).glob("*/report.json"))
        report = json.loads(reports[0].read_text()) if reports else {}
        if proc.returncode not in (0, 7):
            print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        for call in calls:
            call["start"] = call["at"] - call["seconds"] - started
        return wall, proc.returncode, calls, report


def phases(wall: float, calls: list[dict]) -> dict[str, float]:
    answers = [c for c in calls if not c["tool"]]
    verdicts = [c for c in calls if c["tool"]]
    first = min((c["start"] for c in calls), default=wall)
    answers_end = max((c["start"] + c["seconds"] for c in answers), default=first)
    judge_start = min((c["start"] for c in verdicts), default=answers_end)
    judge_end = max((c["start"] + c["seconds"] for c in verdicts), default=judge_start)
    return {
        "start-up, validation, model loading": first,
        "candidates answering": answers_end - first,
        "between (score step start)": max(0.0, judge_start - answers_end),
        "judge": judge_end - judge_start,
        "report and exit": wall - judge_end,
    }


def raw_limit(calls: list[dict]) -> tuple[float, dict[str, float]]:
    """Seconds raw llama-cpp-python needs for the same token work, and each model's load time."""
    import llama_cpp

    from converse_local import catalog

    loads: dict[str, float] = {}
    models: dict[str, llama_cpp.Llama] = {}
    threads = os.cpu_count()
    for model_id in dict.fromkeys(c["modelId"] for c in calls):
        started = time.perf_counter()
        models[model_id] = llama_cpp.Llama(
            model_path=str(catalog.gguf_path(model_id)),
            n_ctx=catalog.get(model_id).n_ctx,
            n_threads=threads,
            verbose=False,
        )
        loads[model_id] = time.perf_counter() - started
    total = 0.0
    for call in calls:
        llm = models[call["modelId"]]
        fresh = max(1, call["inputTokens"] - call["reusedTokens"])
        prompt = [(i * 7919) % 20000 + 100 for i in range(fresh)]  # cost depends on the count, not the text
        started = time.perf_counter()
        llm.reset()
        written = 0
        for _token in llm.generate(prompt, top_k=1, temp=0.0, reset=True):  # greedy, stops only at the count
            written += 1
            if written >= call["outputTokens"]:
                break
        total += time.perf_counter() - started
    return total + sum(loads.values()), loads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--event", type=Path, default=ROOT / "events" / "statemachine" / "demo-local.json")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-raw", action="store_true", help="skip the raw llama-cpp-python limit")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set for the demo's process, e.g. CONVERSE_LOCAL_MAX_PARALLEL=2",
    )
    args = parser.parse_args()
    extra_env = dict(pair.split("=", 1) for pair in args.env)
    print(f"bench/demo.py: {args.event.name}, {args.runs} run(s), {os.cpu_count()} cores, env {extra_env or '-'}")
    walls = []
    for n in range(1, args.runs + 1):
        wall, code, calls, report = run_demo(args.event, extra_env)
        walls.append(wall)
        verdict = "meets" if wall <= TARGET_SECONDS else "misses"
        control = (report.get("judgeHealth") or {}).get("controlPassed")
        scores = {m["modelId"]: m.get("weightedScore") for m in report.get("models", [])}
        print(
            f"\nrun {n}: wall {wall:.1f} s (target {TARGET_SECONDS:.0f} s: {verdict}), exit {code}, "
            f"control check {'passed' if control else 'FAILED' if control is False else 'n/a'}, scores {scores}"
        )
        for name, seconds in phases(wall, calls).items():
            print(f"  {name:<38} {seconds:6.1f} s")
        print(f"  {'call':<44}{'in':>6}{'reused':>8}{'out':>6}{'prompt s':>10}{'total s':>9}{'tok/s out':>10}")
        for c in calls:
            gen = c["seconds"] - c["promptSeconds"]
            rate = c["outputTokens"] / gen if gen > 0 else 0.0
            kind = "judge " if c["tool"] else "answer"
            print(
                f"  {kind} {c['modelId'][:37]:<37}{c['inputTokens']:>6}{c['reusedTokens']:>8}{c['outputTokens']:>6}"
                f"{c['promptSeconds']:>10.1f}{c['seconds']:>9.1f}{rate:>10.1f}"
            )
        totals = {k: sum(c[k] for c in calls) for k in ("inputTokens", "reusedTokens", "outputTokens")}
        print(
            f"  tokens: {totals['inputTokens']} in ({totals['reusedTokens']} reused), "
            f"{totals['outputTokens']} out, {len(calls)} calls"
        )
        if not args.no_raw and calls:
            limit, loads = raw_limit(calls)
            print(
                f"  raw llama-cpp-python, same tokens: {limit:.1f} s (of which loading "
                f"{sum(loads.values()):.1f} s); demo / raw = {wall / limit:.2f}"
            )
    if len(walls) > 1:
        print(f"\nwall: min {min(walls):.1f} s, max {max(walls):.1f} s over {len(walls)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
