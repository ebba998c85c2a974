"""Dataset throughput, against the peers' figures on the same workload.

    .venv/bin/python bench/dataset_throughput.py [--items 20]

20 items x 3 candidates answering in 1.5 s, 0.8 s and 0.3 s, each answer judged by a judge answering
in 0.5 s (``controlAnswer: false``): 120 model calls, up to 60 in flight (the template's defaults:
20 items at a time x 3 models, the judge 4 at a time per item). The whole command
``bakeoff local run EVENT.json --dataset items.jsonl`` runs as a child process, its models behind
the scripted Converse endpoint served by this process; calls are counted at that endpoint, peak
memory is the child's max RSS. Lower bound: 1.5 s + 0.5 s = 2.0 s plus start-up. Target: under 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from scripted_endpoint import (
    CLAUDE,
    ENDPOINT_VAR,
    LLAMA,
    MISTRAL,
    ROOT,
    judge_calls,
    peak_rss_mb,
    sample_request,
    serve,
    write_dataset,
)

DELAYS = {CLAUDE: 1.5, LLAMA: 0.8, MISTRAL: 0.3}
JUDGE_DELAY = 0.5
PEERS = [("promptfoo 0.121, -j 20", 7.2), ("promptfoo 0.121, -j 4 (its default)", 23.1), ("Inspect AI 0.3.285", 10.0)]
TARGET_SECONDS = 5.0


def command(event: Path, dataset: Path, out: Path) -> list[str]:
    script = Path(sys.executable).with_name("bakeoff")
    start = [str(script)] if script.exists() else [sys.executable, "-m", "bakeoff_cli.main"]
    return [*start, "local", "run", str(event), "--dataset", str(dataset), "--out", str(out), "--no-open"]


def run_once(items: int, tmp: Path) -> dict:
    """One whole command against a fresh endpoint; returns its figures."""
    event = tmp / "event.json"
    request = {k: v for k, v in sample_request(controlAnswer=False).items() if k != "article"}
    event.write_text(json.dumps(request), encoding="utf-8")
    dataset = write_dataset(tmp / "items.jsonl", items)
    server = serve(DELAYS, JUDGE_DELAY)
    first_call: list[float] = []
    original = server.backend.converse

    def timed(model_id, request):
        if not first_call:
            first_call.append(time.perf_counter())
        return original(model_id, request)

    server.backend.converse = timed
    try:
        env = os.environ | {ENDPOINT_VAR: server.url, "CI": "1"}
        started = time.perf_counter()
        child = subprocess.run(command(event, dataset, tmp / "out"), cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
    finally:
        server.stop()
    reports = sorted((tmp / "out").glob("*/report.json"))
    report = json.loads(reports[-1].read_text(encoding="utf-8")) if reports else None
    return {
        "returncode": child.returncode,
        "stdout": child.stdout,
        "stderr": child.stderr,
        "wall": wall,
        "startup": (first_call[0] - started) if first_call else None,
        "calls": sum(server.calls.values()),
        "judge_calls": judge_calls(server),
        "report": report,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--show-output", action="store_true", help="print the command's own progress lines")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        f = run_once(args.items, Path(tmp))
    peak = peak_rss_mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    if f["returncode"] != 0:
        print(f"the command failed (exit {f['returncode']}) after {f['wall']:.2f}s; {f['calls']} calls were made")
        print(f["stdout"][-3000:], f["stderr"][-3000:], sep="\n")
        return 1
    if args.show_output:
        print(f["stdout"])
    expected = args.items * len(DELAYS) * 2
    bound = max(DELAYS.values()) + JUDGE_DELAY
    totals = (f["report"] or {}).get("totals", {})
    print(f"{args.items} items x {len(DELAYS)} candidates (1.5 s, 0.8 s, 0.3 s) + judge (0.5 s), controlAnswer off")
    print(
        f"  wall time of the whole command   {f['wall']:6.2f} s   (target < {TARGET_SECONDS:.0f} s: "
        f"{'meets' if f['wall'] < TARGET_SECONDS else 'MISSES'})"
    )
    if f["startup"] is not None:
        print(f"  of which start-up (to 1st call)  {f['startup']:6.2f} s")
        print(f"  lower bound                      {bound + f['startup']:6.2f} s   ({bound:.1f} s + start-up)")
    print(f"  model calls at the endpoint      {f['calls']:6d}     ({f['judge_calls']} judge; expected {expected})")
    print(
        f"  answers in the report            {totals.get('answers', '?'):>6}     "
        f"(failed {totals.get('failedAnswers', '?')})"
    )
    errors = Counter(
        r.get("error") or "?" for r in (f["report"] or {}).get("dataset", {}).get("rows", []) if r.get("status") != "ok"
    )
    if errors:
        print(f"  failed answers by error          {dict(errors)}")
    print(f"  peak memory (child max RSS)      {peak:6.0f} MB")
    print("  peers on the same workload (figures quoted in issue 9, not measured here):")
    for name, seconds in PEERS:
        versus = (
            f"{seconds / f['wall']:.1f}x as long as this run"
            if seconds >= f["wall"]
            else f"this run takes {f['wall'] / seconds:.1f}x as long"
        )
        print(f"    {name:36} {seconds:5.1f} s   ({versus})")
    return 0 if f["wall"] < TARGET_SECONDS and f["calls"] == expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
