"""What the containers talk to, on the host's Docker bridge address: a moto server (S3, Step Functions)
holding ``events/bucket/``, and a scripted Converse endpoint. Plus the two ways of running a function
on one event - ``sam local invoke`` in a container, ``bakeoff local invoke`` in-process - and how their
outputs are compared."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from tests.sam.sam_cli import IMAGE, ROOT, run_sam

EVENTS = ROOT / "events"
FUNCTIONS = {
    "validate": "ValidateFunction",
    "invoke_model": "InvokeModelFunction",
    "score": "ScoreFunction",
    "report": "ReportFunction",
    "api": "ApiFunction",
}
# What differs between two runs of the same code on the same event: measured time, and paths in a stack trace.
VARYING = {"latencyMs", "stackTrace"}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def sam_process_env(moto_url: str) -> dict[str, str]:
    """What SAM CLI itself runs with: test credentials, and STS at the moto server. SAM asks STS for the
    account ID on every `local invoke` / `start-lambda`; offline, the real endpoint costs a 5 s timeout."""
    return CREDENTIALS | {"AWS_ENDPOINT_URL_STS": moto_url}


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def s3_client(url: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def without_varying(value: Any) -> Any:
    """``value`` without the keys in VARYING, at any depth, and with JSON strings (an API body, an
    error message) compared by content."""
    if isinstance(value, dict):
        return {k: without_varying(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [without_varying(v) for v in value]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return without_varying(json.loads(value))
        except ValueError:
            return value
    return value


@dataclass
class Outcome:
    output: Any
    seconds: float
    log: str


def sam_invoke(
    function: str, event: Path, *, template: Path, env_file: Path, architecture: str, moto_url: str
) -> Outcome:
    """``sam local invoke`` in the stand-in image; the output is the last line SAM prints."""
    started = time.perf_counter()
    done = run_sam(
        "local",
        "invoke",
        function,
        "-t",
        str(template),
        "-e",
        str(event),
        "--env-vars",
        str(env_file),
        "--invoke-image",
        IMAGE,
        "--skip-pull-image",
        "--region",
        "us-east-1",
        "--parameter-overrides",
        f"Architecture={architecture}",
        timeout=300,
        env=sam_process_env(moto_url),
    )
    seconds = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, f"sam local invoke {function} failed:\n{done.stdout}\n{done.stderr[-4000:]}"
    return Outcome(json.loads(lines[-1]), seconds, done.stderr)


def local_invoke(function: str, event: Path, converse_url: str) -> Outcome:
    """``bakeoff local invoke``: the same function in-process, with its own moto holding ``events/bucket/``."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "bakeoff"), "local", "invoke", function, "-e", str(event)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | CREDENTIALS | {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": converse_url},
    )
    # The handlers' own log lines come first; the output is the indented JSON document printed last.
    start = 0 if done.stdout.startswith("{\n") else done.stdout.rfind("\n{\n") + 1
    assert done.stdout[start : start + 2] == "{\n", f"no output from {function}:\n{done.stdout}\n{done.stderr}"
    return Outcome(json.JSONDecoder().raw_decode(done.stdout, start)[0], time.perf_counter() - started, done.stderr)
