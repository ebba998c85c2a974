"""Batch mode pays nothing twice across a kill: ``bakeoff local run`` is SIGKILLed while the batch jobs are
half done, then the same request runs again. A batch job outlives the process that created it (on Bedrock;
offline the local batch service keeps its jobs beside the checkpoints): the rerun reattaches to the jobs
instead of submitting new ones, and no record is answered twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

from converse_local import wire
from tests.conftest import ROOT
from tests.statemachine.test_batch import EVENTS, dataset_lines, respond
from tests.support.converse_fakes import converse_server, is_judge_call

BAKEOFF = [sys.executable, "-m", "bakeoff_cli.main"]


def start_cli(event, dataset, out, endpoint: str) -> subprocess.Popen:
    env = os.environ | {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": endpoint}
    return subprocess.Popen(
        [*BAKEOFF, "local", "run", str(event), "--dataset", str(dataset), "--out", str(out), "--no-open"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def candidate(model_id: str, request: dict) -> tuple[str, str]:
    return model_id, request["messages"][0]["content"][0]["text"]


def test_sigkill_mid_batch_then_the_same_request_answers_only_the_records_not_yet_answered(tmp_path):
    event, dataset, out = tmp_path / "event.json", tmp_path / "items.jsonl", tmp_path / "out"
    request = json.loads((EVENTS / "statemachine" / "dataset-bedrock.json").read_text())
    event.write_text(json.dumps(request | {"controlAnswer": False, "inference": "batch"}))
    dataset.write_bytes(dataset_lines(120))
    answered: list[tuple[str, str]] = []
    release = threading.Event()
    lock = threading.Lock()

    # Given candidates that answer 70 records, then hang (the jobs are half done)
    def first_respond(model_id: str, body: dict) -> dict:
        if is_judge_call(body):
            return respond(model_id, body)
        with lock:
            if len(answered) >= 70:
                hang = True
            else:
                hang = False
                answered.append(candidate(model_id, body))
        if hang:
            release.wait(60)
            raise wire.ConverseError("ServiceUnavailableException", "gone")
        return respond(model_id, body)

    with converse_server(first_respond) as first:
        cli = start_cli(event, dataset, out, first.url)
        try:
            deadline = time.monotonic() + 180
            while len(answered) < 70 and time.monotonic() < deadline and cli.poll() is None:
                time.sleep(0.05)
            time.sleep(0.5)  # let the answered records reach the service's disk state
            # When the command is killed outright
            os.kill(cli.pid, signal.SIGKILL)
            cli.wait(30)
        finally:
            cli.kill()
            release.set()
        assert len(answered) == 70, cli.stdout.read() if cli.stdout else ""

    # Then the same request again asks only for the records not answered before, each once
    asked: list[tuple[str, str]] = []

    def second_respond(model_id: str, body: dict) -> dict:
        if not is_judge_call(body):
            with lock:
                asked.append(candidate(model_id, body))
        return respond(model_id, body)

    with converse_server(second_respond) as second:
        cli = start_cli(event, dataset, out, second.url)
        output = cli.communicate(timeout=600)[0]
    assert cli.returncode == 0, output
    assert len(asked) == 240 - 70 and not set(asked) & set(answered)
    assert len(set(asked) | set(answered)) == 240
    jobs = [json.loads(p.read_text()) for p in (out / ".checkpoints" / ".bedrock-batch").glob("*.json")]
    assert len(jobs) == 2 and all(j["status"] == "Completed" for j in jobs)  # reattached, none submitted again
    (report,) = out.glob("*/report.json")
    body = json.loads(report.read_text())
    assert body["totals"]["answers"] == 240
    assert all(m["inference"] == "batch" and m["batchAnswers"] == 120 for m in body["models"])


def test_the_cli_refuses_a_50_item_batch_run_before_starting_anything(tmp_path):
    event, dataset = tmp_path / "event.json", tmp_path / "items.jsonl"
    request = json.loads((EVENTS / "statemachine" / "dataset-bedrock.json").read_text())
    event.write_text(json.dumps(request | {"inference": "batch"}))
    dataset.write_bytes(dataset_lines(50))
    with converse_server(respond) as server:
        cli = start_cli(event, dataset, tmp_path / "out", server.url)
        output = cli.communicate(timeout=120)[0]
        calls = sum(server.calls.values())
    assert cli.returncode == 1, output  # Exit.REFUSED_LOCAL
    assert "at least 100 records per model" in " ".join(output.split()) and calls == 0
    assert not (tmp_path / "out" / ".checkpoints" / ".bedrock-batch").exists()
