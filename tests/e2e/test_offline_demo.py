"""`bakeoff local run` end to end with real local models: the command `make demo` runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, load_event
from tests.e2e.conftest import require_models

BAKEOFF = [sys.executable, "-m", "bakeoff_cli.main"]
SMOLLM = "local.smollm2-135m-instruct-v1:0"
QWEN_05 = "local.qwen2-5-coder-0-5b-instruct-v1:0"
QWEN_15 = "local.qwen2-5-coder-1-5b-instruct-v1:0"


def run_cli(*args: str, timeout: float = 1500) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"}
    return subprocess.run(
        [*BAKEOFF, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env | {"COLUMNS": "160"}
    )


def smallest_model_event(tmp_path: Path, max_tokens: int) -> Path:
    """The demo's request with only the smallest candidate, judged by another local model."""
    event = load_event("statemachine/podcast-local.json") | {
        "models": [SMOLLM],
        "judgeModelId": QWEN_05,
        "maxTokens": max_tokens,
        "controlAnswer": False,
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return path


def only_report(out: Path) -> dict:
    reports = list(out.glob("*/report.json"))
    assert len(reports) == 1, reports
    assert (reports[0].parent / "report.html").is_file()
    assert (out / "index.html").is_file()
    return json.loads(reports[0].read_text())


def assert_real_answers_and_verdicts(report: dict, models: list[str]) -> None:
    assert sorted(m["modelId"] for m in report["models"]) == sorted(models)
    for entry in report["models"]:
        assert entry["status"] == "ok", entry.get("error")
        assert entry["usage"]["inputTokens"] > 0 and entry["usage"]["outputTokens"] > 0
        assert entry["output"].strip()
        assert entry["scoreStatus"] in ("scored", "unscored")
        if entry["scoreStatus"] == "scored":
            values = [s["score"] for s in entry["scores"].values()]
            assert values and all(isinstance(v, int) and 1 <= v <= 10 for v in values)
            assert entry["judgeUsage"]["inputTokens"] > 0  # a real judge call was made and billed
    assert report["judgeHealth"]["judged"] == len(models)


@pytest.mark.llama
def test_the_smallest_model_end_to_end(tmp_path):
    require_models(SMOLLM, QWEN_05)
    # Given the smallest candidate with a short answer, and a different local judge
    path = smallest_model_event(tmp_path, max_tokens=48)
    # When it runs through the real state machine
    result = run_cli("local", "run", str(path), "--out", str(tmp_path / "out"), "--no-open")
    # Then the report has a real answer with real token counts and a verdict from the forced tool call
    assert result.returncode == 0, result.stdout + result.stderr
    report = only_report(tmp_path / "out")
    assert_real_answers_and_verdicts(report, [SMOLLM])
    assert report["models"][0]["usage"]["outputTokens"] <= 48
    assert report["models"][0]["scoreStatus"] == "scored", report["models"][0].get("unscoredReason")
    assert "report:" in result.stdout


@pytest.mark.llama
def test_make_demo_command_path(tmp_path):
    """The exact event and command `make demo` runs, so a missing install step cannot hide."""
    require_models(SMOLLM, QWEN_05, QWEN_15)
    demo_event = next(
        line.split("?=")[1].strip() for line in (ROOT / "Makefile").read_text().splitlines() if "DEMO_EVENT ?=" in line
    )
    event = json.loads((ROOT / demo_event).read_text())
    result = run_cli("local", "run", demo_event, "--out", str(tmp_path), "--no-open")
    assert result.returncode == 0, result.stdout + result.stderr
    report = only_report(tmp_path)
    assert_real_answers_and_verdicts(report, event["models"])
    assert report["judgeModelId"] == event["judgeModelId"]
    assert report["judgeHealth"]["unscoredRate"] is not None
    assert any("tiny" in n for n in report.get("notices", []))
    print(result.stdout)  # the summary table, for whoever reads the CI log


def test_a_refused_request_exits_non_zero_and_loads_no_model(tmp_path):
    event = load_event("statemachine/podcast-local.json") | {"models": [SMOLLM, SMOLLM], "maxTokens": 5}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(event))
    result = run_cli("local", "run", str(path), "--out", str(tmp_path / "out"), timeout=120)
    assert result.returncode == 1
    assert "models: model IDs must be unique" in result.stdout
    assert "maxTokens" in result.stdout
    assert "loading" not in result.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.llama
def test_a_model_server_that_dies_mid_run_stops_the_run_at_once_with_what_died(tmp_path):
    require_models(SMOLLM, QWEN_05)
    path = smallest_model_event(tmp_path, max_tokens=400)
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"}
    cli = subprocess.Popen(
        [*BAKEOFF, "local", "run", str(path), "--out", str(tmp_path / "out"), "--no-open"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env | {"COLUMNS": "200"},
    )
    seen = []
    try:
        # When the model server is killed (as a CPU fault would kill it) while the candidate answers
        for line in cli.stdout:
            seen.append(line)
            if "answering" in line:
                break
        server = subprocess.run(
            ["pgrep", "-P", str(cli.pid), "-f", "converse_local"], capture_output=True, text=True
        ).stdout.split()
        assert len(server) == 1, (server, "".join(seen))
        os.kill(int(server[0]), signal.SIGSEGV)
        killed = time.perf_counter()
        rest = cli.communicate(timeout=120)[0]
        stopped_after = time.perf_counter() - killed
    finally:
        cli.kill()
    output = "".join(seen) + rest
    # Then the run stops at once, says what died and how, and exits "crashed" (3), not "refused" (1)
    assert cli.returncode == 3, output
    assert "the local model server died: killed by signal 11 (SIGSEGV)" in output
    assert "make rebuild-llama" in output
    assert stopped_after < 20, f"{stopped_after:.1f}s after the kill: a dead server must not be retried"
    assert "answering (attempt 2)" not in rest  # no retry was started against the dead server
