"""Critical path: does the workflow add anything to the time the models themselves take?

    .venv/bin/python bench/critical_path.py

One evaluation through the real state machine, offline (moto + the real handlers, in-process),
three candidates whose endpoint answers after 3 s, 1 s and 0.5 s, and a judge answering after 0.5 s.
The lower bound is the slowest candidate + the judge's rounds + the report step's own time: the
judge scores the three answers in parallel (one round), and the control answer, when on, is a
second round (it is a corruption of the best answer, so it waits for the first).
Run twice: ``controlAnswer: false`` (judge 0.5 s) and the default (judge 2 x 0.5 s).
Target: wall <= 1.10 x lower bound (+1 s).
"""

from __future__ import annotations

import logging
import os
import time

from scripted_endpoint import CLAUDE, ENDPOINT_VAR, LLAMA, MISTRAL, ROOT, judge_calls, sample_request, serve

from bakeoff_offline.stack import OfflineStack

DELAYS = {CLAUDE: 3.0, LLAMA: 1.0, MISTRAL: 0.5}
JUDGE_DELAY = 0.5
QUIET = {"LOG_LEVEL": "WARNING", "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


def durations(stack: OfflineStack, function: str) -> list[float]:
    return [i.seconds for i in stack.lambda_server.invocations if i.function == function]


def measure(control: bool) -> dict[str, float]:
    server = serve(DELAYS, JUDGE_DELAY)
    try:
        started = time.perf_counter()
        with OfflineStack(ROOT, env={ENDPOINT_VAR: server.url, **QUIET}) as stack:
            setup = time.perf_counter() - started
            execution = stack.run(sample_request(controlAnswer=control))
            if not execution.succeeded:
                raise SystemExit(f"the evaluation failed: {execution.error}: {execution.cause}")
            report = durations(stack, "ReportFunction")[0]
            figures = {
                "wall": execution.seconds,
                "setup": setup,
                "validate": durations(stack, "ValidateFunction")[0],
                "answers": max(durations(stack, "InvokeModelFunction")),
                "score": durations(stack, "ScoreFunction")[0],
                "report": report,
                "judge_calls": judge_calls(server),
            }
    finally:
        server.stop()
    rounds = 2 if control else 1
    figures["bound"] = max(DELAYS.values()) + rounds * JUDGE_DELAY + figures["report"]
    return figures


def main() -> int:
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    # Powertools reads these when metrics flush, not only at import: set them for the whole process.
    os.environ.update(QUIET)
    print("candidates answer after 3 s, 1 s, 0.5 s; the judge after 0.5 s (JUDGE_CONCURRENCY=4)")
    print(
        f"{'run':22} {'wall':>7} {'bound':>7} {'ratio':>6} {'over':>6}  {'validate':>8} {'answers':>8} "
        f"{'score':>6} {'report':>6} {'judge calls':>11}  target: ratio <= 1.10 (+1 s)"
    )
    ok = True
    for control in (False, True):
        f = measure(control)
        ratio = f["wall"] / f["bound"]
        meets = f["wall"] <= 1.10 * f["bound"] + 1.0
        ok &= meets
        label = "controlAnswer on" if control else "controlAnswer off"
        print(
            f"{label:22} {f['wall']:6.2f}s {f['bound']:6.2f}s {ratio:6.3f} {f['wall'] - f['bound']:+5.2f}s  "
            f"{f['validate']:7.2f}s {f['answers']:7.2f}s {f['score']:5.2f}s {f['report']:5.2f}s "
            f"{f['judge_calls']:>11}  {'meets' if meets else 'MISSES'} (ratio <= 1.10: "
            f"{'yes' if ratio <= 1.10 else 'no'})"
        )
    print(f"(stack start-up, not counted in wall: {f['setup']:.2f}s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
