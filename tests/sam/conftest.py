"""The ``sam`` tier: what ``sam build`` produced, run by SAM CLI in Lambda-like containers.

Needs SAM CLI (``.venv-tools``), Docker and the stand-in image ``bakeoff/lambda-python:3.12``
(``make lambda-image``). A machine without them skips the container tests with one line saying why;
under CI (``CI=true``) the same condition fails them instead, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SAM = ROOT / ".venv-tools" / "bin" / "sam"
IMAGE = os.environ.get("LAMBDA_IMAGE", "bakeoff/lambda-python:3.12")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The containers run the host's own architecture (an x86-64 stand-in on an x86-64 host).
HOST_ARCHITECTURE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), platform.machine())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.sam)


def unavailable(reason: str) -> None:
    """Skip (a developer's machine) or fail (CI) for a missing prerequisite, with one clear line."""
    message = f"sam tier: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI must run the sam tier)", pytrace=False)
    pytest.skip(message)


def python312_dir() -> str:
    """`sam build` (no container) needs the runtime's python3.12 on PATH (pyenv's shim only works when
    pyenv has 3.12 selected, so a real interpreter's folder goes first)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for candidate in (*sorted(pyenv.glob("3.12*/bin/python3.12")), shutil.which("python3.12"),
                      sys.executable if sys.version_info[:2] == (3, 12) else None):
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return str(Path(candidate).parent)
    unavailable("no python3.12 for `sam build`")
    return ""


def run_sam(*args: str, timeout: float = 900, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = os.environ | {"SAM_CLI_TELEMETRY": "0", "PATH": f"{python312_dir()}:{os.environ['PATH']}"}
    return subprocess.run([str(SAM), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=environment | (env or {}))


@dataclass(frozen=True)
class Build:
    path: Path  # the build directory, holding template.yaml and one folder per function and layer
    architecture: str
    seconds: float

    @property
    def template(self) -> Path:
        return self.path / "template.yaml"


def _build(build_dir: str, cache_dir: str, *overrides: str) -> Build:
    if not SAM.exists():
        unavailable(f"no SAM CLI at {SAM.relative_to(ROOT)} (make .venv-tools/.installed)")
    started = time.perf_counter()
    args = ["build", "--cached", "--parallel", "--build-dir", build_dir, "--cache-dir", cache_dir]
    if overrides:
        args += ["--parameter-overrides", *overrides]
    done = run_sam(*args)
    assert done.returncode == 0, f"sam build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    architecture = next((o.split("=", 1)[1] for o in overrides if o.startswith("Architecture=")), "")
    return Build(ROOT / build_dir, architecture, time.perf_counter() - started)


@pytest.fixture(scope="session")
def release_build() -> Path:
    """`sam build` as `make build` runs it: the template's own parameters, into .aws-sam/build."""
    return _build(".aws-sam/build", ".aws-sam/cache").path


@pytest.fixture(scope="session")
def local_build() -> Build:
    """The same template built for this machine's architecture (a local override, for the containers)."""
    return _build(f".aws-sam/build-{HOST_ARCHITECTURE}", f".aws-sam/cache-{HOST_ARCHITECTURE}",
                  f"Architecture={HOST_ARCHITECTURE}")


@pytest.fixture(scope="session")
def docker() -> str:
    """Docker is installed and its daemon answers (as root, `make docker` installs and starts it)."""
    if not shutil.which("docker"):
        unavailable("no Docker (as root: `make docker` installs Debian's docker.io and starts dockerd)")
    done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if done.returncode != 0:
        unavailable("the Docker daemon does not answer (as root: `make docker` starts it): "
                    + (done.stderr.strip().splitlines() or ["?"])[-1])
    return done.stdout.strip()


@pytest.fixture(scope="session")
def lambda_image(docker: str) -> str:
    """The stand-in Lambda image, built now if missing or stale (needs root; cached by its inputs)."""
    present = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode == 0
    if os.geteuid() != 0 and not present:
        unavailable(f"no image {IMAGE}, and building it needs root (make lambda-image)")
    if os.geteuid() == 0:
        done = subprocess.run([str(ROOT / "tools" / "lambda_image" / "build.sh")], capture_output=True, text=True)
        assert done.returncode == 0, f"make lambda-image failed:\n{done.stdout}\n{done.stderr}"
    return IMAGE


@pytest.fixture(scope="session")
def bridge_ip(docker: str) -> str:
    """The host's address on Docker's default bridge: where the containers reach the host's servers."""
    done = subprocess.run(["docker", "network", "inspect", "bridge", "--format",
                           "{{range .IPAM.Config}}{{.Gateway}}{{end}}"], capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        unavailable("Docker has no default bridge network (dockerd --bridge=none cannot publish ports)")
    return done.stdout.strip()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield
