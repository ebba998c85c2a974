"""The ``sam`` tier: what ``sam build`` produced, run by SAM CLI in Lambda-like containers.

Needs SAM CLI (``.venv-tools``), Docker and the stand-in image ``bakeoff/lambda-python:3.12``
(``make lambda-image``). A machine without them skips the container tests with one line saying why;
under CI (``CI=true``) the same condition fails them instead, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sam.sam_cli import (
    HOST_ARCHITECTURE,
    IMAGE,
    ROOT,
    SAM,
    SKIPPED_BECAUSE,
    TIMINGS,
    record_timing,
    run_sam,
    unavailable,
)

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.sam)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("sam tier timings")
        for what, seconds in TIMINGS:
            terminalreporter.write_line(f"{seconds:7.1f} s  {what}")
    for reason in sorted(SKIPPED_BECAUSE):
        terminalreporter.write_line(f"sam tier SKIPPED: {reason}", yellow=True, bold=True)


@dataclass(frozen=True)
class Build:
    path: Path  # the build directory, holding template.yaml and one folder per function and layer
    architecture: str


def _build(cwd: Path, *overrides: str) -> Build:
    """`sam build --cached` of template.yaml into ``cwd/.aws-sam/build``, run from ``cwd``."""
    if not SAM.exists():
        unavailable(f"no SAM CLI at {SAM.relative_to(ROOT)} (make .venv-tools/.installed)")
    cwd.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    args = [
        "build",
        "-t",
        str(ROOT / "template.yaml"),
        "--cached",
        "--parallel",
        "--build-dir",
        ".aws-sam/build",
        "--cache-dir",
        ".aws-sam/cache",
    ]
    if overrides:
        args += ["--parameter-overrides", *overrides]
    done = run_sam(*args, cwd=cwd)
    assert done.returncode == 0, f"sam build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    architecture = next((o.split("=", 1)[1] for o in overrides if o.startswith("Architecture=")), "")
    seconds = time.perf_counter() - started
    record_timing(f"sam build in {cwd.relative_to(ROOT)}/.aws-sam/build {' '.join(overrides)}".rstrip(), seconds)
    return Build(cwd / ".aws-sam" / "build", architecture)


@pytest.fixture(scope="session")
def release_build() -> Path:
    """`sam build` as `make build` runs it: the template's own parameters, into .aws-sam/build."""
    return _build(ROOT).path


@pytest.fixture(scope="session")
def local_build() -> Build:
    """The same template built for this machine's architecture (a local override, for the containers).

    Built from a folder of its own: SAM keeps the layer's dependencies in ``.aws-sam/deps`` under the
    working directory, lists them in a build graph beside the build directory, and deletes those its
    graph does not list; two builds sharing one folder would delete each other's and fetch them again."""
    return _build(ROOT / ".aws-sam" / f"local-{HOST_ARCHITECTURE}", f"Architecture={HOST_ARCHITECTURE}")


@pytest.fixture(scope="session")
def docker() -> str:
    """Docker is installed and its daemon answers (as root, `make docker` installs and starts it)."""
    if not shutil.which("docker"):
        unavailable("no Docker (as root: `make docker` installs Debian's docker.io and starts dockerd)")
    done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if done.returncode != 0:
        unavailable(
            "the Docker daemon does not answer (as root: `make docker` starts it): "
            + (done.stderr.strip().splitlines() or ["?"])[-1]
        )
    return done.stdout.strip()


@pytest.fixture(scope="session")
def lambda_image(docker: str) -> str:
    """The stand-in Lambda image, built now if missing or stale (needs root; cached by its inputs)."""
    present = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode == 0
    if os.geteuid() != 0 and not present:
        unavailable(f"no image {IMAGE}, and building it needs root (make lambda-image)")
    if os.geteuid() == 0:
        started = time.perf_counter()
        done = subprocess.run([str(ROOT / "tools" / "lambda_image" / "build.sh")], capture_output=True, text=True)
        assert done.returncode == 0, f"make lambda-image failed:\n{done.stdout}\n{done.stderr}"
        record_timing(f"lambda image: {done.stdout.strip().splitlines()[-1]}", time.perf_counter() - started)
    return IMAGE


@pytest.fixture(scope="session")
def bridge_ip(docker: str) -> str:
    """The host's address on Docker's default bridge: where the containers reach the host's servers."""
    fields = '{{range .IPAM.Config}}{{.Gateway}}{{end}} {{index .Options "com.docker.network.bridge.name"}}'
    done = subprocess.run(
        ["docker", "network", "inspect", "bridge", "--format", fields], capture_output=True, text=True
    )
    if done.returncode != 0 or not done.stdout.strip():
        unavailable("Docker has no default bridge network (dockerd --bridge=none cannot publish ports)")
    gateway, _, interface = done.stdout.strip().rpartition(" ")
    if gateway:
        return gateway
    # dockerd 20.10 records no gateway for its default bridge: the interface's own address is it.
    shown = subprocess.run(["ip", "-4", "-o", "addr", "show", interface], capture_output=True, text=True).stdout.split()
    if "inet" not in shown:
        unavailable(f"no IPv4 address on Docker's bridge {interface}")
    return shown[shown.index("inet") + 1].split("/")[0]
