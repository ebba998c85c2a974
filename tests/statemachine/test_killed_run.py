"""Nothing paid for is lost when `bakeoff local run` is killed: SIGKILL (no cleanup runs) after two of
three answers arrived, then the same request again: the two are not asked for again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from converse_local.faults import Fault
from tests.conftest import ROOT, load_event
from tests.support.converse_fakes import converse_server, good_responder, is_judge_call

BAKEOFF = [sys.executable, "-m", "bakeoff_cli.main"]
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
LLAMA = "meta.llama3-70b-instruct-v1:0"
MISTRAL = "mistral.mistral-large-2402-v1:0"


def start_cli(event: Path, out: Path, endpoint: str) -> subprocess.Popen:
    env = os.environ | {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": endpoint}
    return subprocess.Popen(
        [*BAKEOFF, "local", "run", str(event), "--out", str(out), "--no-open"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def answers_on_disk(out: Path) -> list[Path]:
    return sorted((out / ".checkpoints" / "checkpoints" / "answers").glob("*.json"))


def candidate_calls(server) -> dict[str, int]:
    return {
        m: sum(1 for mid, body in server.requests if mid == m and not is_judge_call(body))
        for m in (CLAUDE, LLAMA, MISTRAL)
    }


def test_sigkill_after_two_answers_then_the_same_request_asks_only_the_third(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps(load_event("statemachine/podcast-bedrock.json") | {"controlAnswer": False}))
    out = tmp_path / "out"
    # Given two models that answer at once and a third that never does
    with converse_server(good_responder(), faults={MISTRAL: Fault(hang=True)}) as first:
        cli = start_cli(event, out, first.url)
        try:
            deadline = time.monotonic() + 120
            while len(answers_on_disk(out)) < 2 and time.monotonic() < deadline and cli.poll() is None:
                time.sleep(0.05)
            # When the command is killed outright, with no chance to save anything
            os.kill(cli.pid, signal.SIGKILL)
            cli.wait(30)
        finally:
            cli.kill()
        assert len(answers_on_disk(out)) == 2, cli.stdout.read() if cli.stdout else ""
        assert candidate_calls(first)[CLAUDE] == 1 and candidate_calls(first)[LLAMA] == 1
    # Then the same request again calls only the model that had not answered
    with converse_server(good_responder()) as second:
        cli = start_cli(event, out, second.url)
        output = cli.communicate(timeout=300)[0]
    assert cli.returncode == 0, output
    assert candidate_calls(second) == {CLAUDE: 0, LLAMA: 0, MISTRAL: 1}
    assert len(answers_on_disk(out)) == 3
    (report,) = out.glob("*/report.json")
    models = json.loads(report.read_text())["models"]
    assert all(m["scoreStatus"] == "scored" for m in models)
    assert sum(bool(m["cached"]) for m in models) == 2
