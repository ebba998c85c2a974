"""statelint over the state machine definitions, minus the one complaint statelint 3.1 gets wrong.

statelint rejects every ``ItemReader.ReaderConfig.InputType`` (JSONL, CSV, ...), a field AWS accepts for a
Distributed Map reading from S3 and that moto needs to parse the items file. That complaint alone is
accepted; anything else fails. ``make lint`` and the unit tests both run this.

usage: python tools/dev/lint_asl.py FILE.asl.json [...]    (exit 0 clean, 1 problems, 2 statelint missing)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def problems(path: Path, statelint: str) -> list[str]:
    result = subprocess.run([statelint, "--ignore=FLOAT", str(path)], capture_output=True, text=True)
    lines = [line.strip() for line in result.stdout.splitlines()[1:] if line.strip()]
    found = [p for p in lines if not (p.startswith('Field "InputType" not allowed in') and "ItemReader" in p)]
    if result.returncode != 0 and not lines:  # statelint itself failed (a JSON error, a crash)
        found.append((result.stderr or result.stdout).strip() or f"statelint exited {result.returncode}")
    return found


def main(argv: list[str]) -> int:
    here = Path(sys.executable).parent / "statelint"
    statelint = str(here) if here.exists() else shutil.which("statelint")
    if not statelint:
        print("statelint is not installed (pip install statelint)", file=sys.stderr)
        return 2
    failed = False
    for name in argv:
        for problem in problems(Path(name), statelint):
            print(f"{name}: {problem}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
