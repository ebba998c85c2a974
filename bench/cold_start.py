"""Cold start: import time of each function's handler module, and the built layer's size.

    .venv/bin/python bench/cold_start.py [--runs 5] [--skip-layer]

Each handler module (``functions.<name>.app``, from template.yaml) is imported in a fresh interpreter
with the environment the template gives that function (BUCKET_NAME etc.; SDK tracing off, the
default), plus AWS_DEFAULT_REGION=us-east-1; the figure is the import alone
(interpreter start-up excluded), median of ``--runs``. Twice: with the bytecode cache warm (a
layer shipped with ``__pycache__``), and with an empty one (Lambda's /opt is read-only: what is not
shipped compiled is compiled again at every cold start). Target: <= 300 ms. Also printed: the
floor (the SDK, pydantic, Powertools and one S3 client with no Bakeoff code), and one function with
SDK tracing on.

The layer is built as ``sam build`` would for the template's architecture: ``pip install -r
layers/shared/requirements.txt --target`` with that platform's wheels, plus the ``bakeoff`` package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bakeoff_offline.template import read_stack

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 300
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
PROBE = (
    "import time, importlib, sys\n"
    "started = time.perf_counter()\n"
    "importlib.import_module(sys.argv[1])\n"
    "print((time.perf_counter() - started) * 1000)\n"
)


def import_ms(module: str, env: dict[str, str], pycache: str | None) -> float:
    run_env = env | ({"PYTHONPYCACHEPREFIX": pycache} if pycache else {})
    out = subprocess.run([sys.executable, "-c", PROBE, module], cwd=ROOT, env=run_env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"importing {module} failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def heaviest_imports(module: str, env: dict[str, str], count: int = 3) -> list[tuple[str, float]]:
    """The modules whose own import (``-X importtime`` self time, children excluded) costs most."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    own: list[tuple[str, float]] = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        own.append((name.strip(), int(self_us) / 1000))
    return sorted(own, key=lambda kv: -kv[1])[:count]


# What every handler here pays before any Bakeoff code: the SDK, pydantic, Powertools' Logger and
# Metrics, and one S3 client (AWS's advice: build clients at init, where a warm container reuses them).
FLOOR = (
    "import time\n"
    "started = time.perf_counter()\n"
    "import boto3, pydantic\n"
    "from aws_lambda_powertools import Logger, Metrics\n"
    "boto3.client('s3')\n"
    "print((time.perf_counter() - started) * 1000)\n"
)


def floor_ms(env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", FLOOR], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def cold_starts(runs: int) -> int:
    stack = read_stack(ROOT)
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    print(f"handler import time, median of {runs} fresh interpreters (target <= {TARGET_MS} ms)")
    print(f"{'function':24} {'module':28} {'warm .pyc':>10} {'no .pyc':>9}  slowest modules (own import time, warm)")
    worst = 0.0
    for spec in stack.functions.values():
        env = base | spec.environment | {"AWS_DEFAULT_REGION": "us-east-1"}
        import_ms(spec.module, env, None)  # fill the bytecode cache
        warm = statistics.median(import_ms(spec.module, env, None) for _ in range(runs))
        cold = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as empty:
                cold.append(import_ms(spec.module, env, empty))
        heavy = ", ".join(f"{name} {ms:.0f}" for name, ms in heaviest_imports(spec.module, env))
        worst = max(worst, warm)
        print(f"{spec.logical_id:24} {spec.module:28} {warm:7.0f} ms {statistics.median(cold):6.0f} ms  {heavy}")
    env = base | {"AWS_DEFAULT_REGION": "us-east-1"}
    floor_ms(env)
    floor = statistics.median(floor_ms(env) for _ in range(runs))
    spec = stack.functions["InvokeModelFunction"]
    traced = statistics.median(
        import_ms(
            spec.module,
            base | spec.environment | {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "false"},
            None,
        )
        for _ in range(runs)
    )
    print(f"floor: boto3 + pydantic + Powertools Logger/Metrics + one S3 client, no Bakeoff code: {floor:.0f} ms")
    print(f"InvokeModelFunction with EnableSdkTracing=true (the X-Ray SDK imported): {traced:.0f} ms")
    print(f"slowest (warm .pyc): {worst:.0f} ms -> {'meets' if worst <= TARGET_MS else 'MISSES'} the target")
    return 0 if worst <= TARGET_MS else 1


def directory_mb(path: Path, *, skip_pycache: bool = False) -> float:
    files = [p for p in path.rglob("*") if p.is_file() and not (skip_pycache and "__pycache__" in p.parts)]
    return sum(p.stat().st_size for p in files) / 1e6


def zipped_mb(path: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "layer.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(path.rglob("*")):
                if p.is_file():
                    zf.write(p, p.relative_to(path))
        return archive.stat().st_size / 1e6


def layer_size(architecture: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "python"
        pip = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(ROOT / "layers/shared/requirements.txt"),
            "--target",
            str(target),
            "--only-binary=:all:",
            "--platform",
            PLATFORMS[architecture],
            "--implementation",
            "cp",
            "--python-version",
            "3.12",
        ]
        out = subprocess.run(pip, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"layer: pip install failed, size not measured:\n{out.stderr[-1500:]}")
            return
        shutil.copytree(
            ROOT / "layers/shared/bakeoff", target / "bakeoff", ignore=shutil.ignore_patterns("__pycache__")
        )
        own = directory_mb(target / "bakeoff")
        print(
            f"layer ({architecture} wheels, as the template deploys): {directory_mb(target):.1f} MB unzipped "
            f"({directory_mb(target, skip_pycache=True):.1f} MB without __pycache__; the bakeoff package "
            f"{own:.2f} MB), {zipped_mb(Path(tmp)):.1f} MB zipped (limits: 250 MB unzipped with the function, "
            f"50 MB zipped upload)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-layer", action="store_true")
    parser.add_argument(
        "--architecture",
        choices=sorted(PLATFORMS),
        default=None,
        help="layer wheels for this architecture (default: the template's)",
    )
    args = parser.parse_args()
    status = cold_starts(args.runs)
    if not args.skip_layer:
        stack = read_stack(ROOT)
        declared = stack.template["Globals"]["Function"].get("Architectures", ["x86_64"])[0]
        architecture = args.architecture or stack.resolve(declared)
        layer_size(architecture)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
