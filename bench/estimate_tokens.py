"""Preflight token estimate vs what the models actually counted, on the offline demo request.

    .venv/bin/python bench/estimate_tokens.py [EVENT.json]

Runs the demo request offline (maxTokens cut to 16 so it is quick: input tokens do not depend on
it) and prints, per candidate, the tokenizer-free estimate from Validate next to the inputTokens the
model reported. Target: within ±20%.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    event_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "events/statemachine/podcast-local.json"
    event = json.loads(event_path.read_text()) | {"maxTokens": 16, "controlAnswer": False}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "event.json"
        path.write_text(json.dumps(event))
        run = subprocess.run(
            [sys.executable, "-m", "bakeoff_cli.main", "local", "run", str(path), "--out", tmp, "--no-open"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            print(run.stdout, run.stderr)
            return 1
        report = json.loads(next(Path(tmp).glob("*/report.json")).read_text())
    print(f"{'model':45} {'estimated':>10} {'actual':>8} {'error':>8}  (target ±20%)")
    worst = 0.0
    for entry in report["models"]:
        estimated = entry["estimate"]["inputTokens"]
        actual = entry["usage"]["inputTokens"]
        error = (estimated - actual) / actual
        worst = max(worst, abs(error))
        print(f"{entry['modelId']:45} {estimated:>10,} {actual:>8,} {error:>+8.1%}")
    print(f"worst: {worst:.1%} -> {'within' if worst <= 0.2 else 'OUTSIDE'} the ±20% target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
