"""`bakeoff local run`'s exit codes, run as a user runs it (a new process), against a scripted Converse
endpoint: 0 only when a model was scored; every other outcome has its own non-zero code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakeoff_cli.exit_codes import Exit
from bakeoff_cli.main import main
from converse_local.faults import Fault
from tests.conftest import ROOT, load_event
from tests.support.converse_fakes import ScriptedModels, converse_server, error, good_responder

BAKEOFF = [sys.executable, "-m", "bakeoff_cli.main"]
JUDGE = "amazon.nova-pro-v1:0"


def run_cli(event: dict, tmp_path: Path, endpoint: str) -> subprocess.CompletedProcess:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    env = os.environ | {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": endpoint, "COLUMNS": "200"}
    return subprocess.run(
        [*BAKEOFF, "local", "run", str(path), "--out", str(tmp_path / "out"), "--no-open"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def report_of(tmp_path: Path) -> dict:
    (path,) = (tmp_path / "out").glob("*/report.json")
    assert (path.parent / "report.html").is_file()
    return json.loads(path.read_text())


@pytest.fixture
def request_() -> dict:
    return load_event("statemachine/podcast-bedrock.json") | {"controlAnswer": False}


def test_a_ranking_exits_0(tmp_path, request_):
    with converse_server(good_responder()) as server:
        result = run_cli(request_, tmp_path, server.url)
    assert result.returncode == Exit.OK, result.stdout + result.stderr
    assert report_of(tmp_path)["winner"]


def test_no_candidate_answering_exits_6_with_a_report(tmp_path, request_):
    def must_not_judge(model_id, request):
        raise AssertionError("the judge must not be asked when nothing answered")

    models = ScriptedModels(
        candidate=error("AccessDeniedException", "You don't have access to the model"), judge=must_not_judge
    )
    with converse_server(models) as server:
        result = run_cli(request_, tmp_path, server.url)
    assert result.returncode == Exit.NO_ANSWERS, result.stdout + result.stderr
    assert "nothing answered: every candidate model failed" in result.stdout
    assert all(m["status"] == "failed" for m in report_of(tmp_path)["models"])


def test_a_judge_that_scores_nothing_exits_7_with_every_answer_reported(tmp_path, request_):
    with converse_server(good_responder(), faults={JUDGE: Fault(malformed_tool_output=True)}) as server:
        result = run_cli(request_, tmp_path, server.url)
    assert result.returncode == Exit.NOT_JUDGED, result.stdout + result.stderr
    assert "the judge scored none of the answers" in result.stdout
    report = report_of(tmp_path)
    assert report["ranking"] == [] and all(m["status"] == "ok" and m["output"] for m in report["models"])


def test_an_endpoint_nobody_listens_on_exits_6_at_once_with_one_line(tmp_path, request_):
    started = time.perf_counter()
    result = run_cli(request_, tmp_path, "http://127.0.0.1:1")
    elapsed = time.perf_counter() - started
    assert result.returncode == Exit.NO_ANSWERS, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(
        "bakeoff: nothing answered: no Converse endpoint at http://127.0.0.1:1"
    ), result.stdout
    assert elapsed < 30, f"took {elapsed:.1f}s: a dead endpoint must not be retried"
    assert not (tmp_path / "out").exists()


def test_a_refusal_exits_1_and_markup_in_the_request_is_printed_not_parsed(tmp_path, request_):
    # Given a request with an unknown key that rich would read as a closing tag, and a bad weight
    bad = request_ | {"[/x]": 1, "scoringCriteria": {"accuracy": 11}}
    with converse_server(good_responder()) as server:
        result = run_cli(bad, tmp_path, server.url)
    assert result.returncode == Exit.REFUSED_LOCAL, result.stdout + result.stderr
    assert "MarkupError" not in result.stderr and "Traceback" not in result.stderr
    assert "[/x]" in result.stdout and "accuracy" in result.stdout
    assert not server.requests


def test_a_crash_is_not_a_refusal(tmp_path, request_, monkeypatch, capsys):
    # Given a bug deep inside the command (stood in for by the validation step raising an unexpected error)
    def broken(*_args, **_kwargs):
        raise RuntimeError("an unexpected bug")

    monkeypatch.setattr("bakeoff_cli.local_run.prevalidate", broken)
    path = tmp_path / "event.json"
    path.write_text(json.dumps(request_), encoding="utf-8")
    code = main(["local", "run", str(path), "--out", str(tmp_path / "out"), "--no-open"])
    assert code == Exit.CRASHED
    assert "bakeoff crashed: RuntimeError: an unexpected bug" in capsys.readouterr().err


def test_help_lists_the_exit_codes():
    result = subprocess.run([*BAKEOFF, "local", "run", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0
    for code in (
        "0  a ranking",
        "1  local run: the request was refused",
        "3  the run broke",
        "6  no candidate answered",
        "7  the candidates answered but the judge scored none",
    ):
        assert code in result.stdout
