"""SAM CLI as the sam tier runs it, the prerequisites it needs, and the timings it reports."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".venv-tools" / "bin" / "sam"
IMAGE = os.environ.get("LAMBDA_IMAGE", "bakeoff/lambda-python:3.12")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The containers run the host's own architecture (an x86-64 stand-in on an x86-64 host).
HOST_ARCHITECTURE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), platform.machine()
)


# Why tests of the tier were skipped: printed once at the end of the run (conftest.py).
SKIPPED_BECAUSE: set[str] = set()


def unavailable(reason: str) -> None:
    """Skip (a developer's machine) or fail (CI) for a missing prerequisite, with one clear line."""
    message = f"sam tier: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI must run the sam tier)", pytrace=False)
    SKIPPED_BECAUSE.add(reason)
    pytest.skip(message)


def python312_dir() -> str:
    """`sam build` (no container) needs the runtime's python3.12 on PATH (pyenv's shim only works when
    pyenv has 3.12 selected, so a real interpreter's folder goes first)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for candidate in (
        *sorted(pyenv.glob("3.12*/bin/python3.12")),
        shutil.which("python3.12"),
        sys.executable if sys.version_info[:2] == (3, 12) else None,
    ):
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return str(Path(candidate).parent)
    unavailable("no python3.12 for `sam build`")
    return ""


def sam_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment SAM CLI runs in: no telemetry, python3.12 first on PATH, plus ``extra``."""
    return os.environ | {"SAM_CLI_TELEMETRY": "0", "PATH": f"{python312_dir()}:{os.environ['PATH']}"} | (extra or {})


def run_sam(
    *args: str, timeout: float = 900, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SAM), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=sam_environment(env)
    )


TIMINGS: list[tuple[str, float]] = []


def record_timing(what: str, seconds: float) -> None:
    """Kept for the summary at the end of the run: what the sam tier's steps cost on this machine."""
    TIMINGS.append((what, seconds))
