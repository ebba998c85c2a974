"""``bakeoff submit`` against ``bakeoff local serve`` (the real server, in a thread on 127.0.0.1):
the exit code is the CI gate."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bakeoff_cli.main import _parser, main
from bakeoff_cli.serve import serve
from tests.api.helpers import API_KEY, FAILING_MODEL, NO_ACCESS, OTHER_KEY, base_request, http, sevens
from tests.support.converse_fakes import error, throttled

SERVE_KEY = API_KEY


@contextmanager
def serving(converse_url: str, state_dir: Path) -> Iterator[str]:
    """``bakeoff local serve`` with one key, its Retry waits shrunk, in a thread; yields the base URL."""
    args = _parser().parse_args(
        [
            "local",
            "serve",
            "--port",
            "0",
            "--api-key",
            SERVE_KEY,
            "--converse-url",
            converse_url,
            "--retry-time-scale",
            "0.01",
            "--state-dir",
            str(state_dir),
        ]
    )
    ready: list[str] = []
    started, stop = threading.Event(), threading.Event()
    outcome: list[int] = []

    def run() -> None:
        outcome.append(serve(args, ready=lambda url: (ready.append(url), started.set()), stop=stop))
        started.set()

    thread = threading.Thread(target=run, name="bakeoff-local-serve", daemon=True)
    thread.start()
    assert started.wait(60) and ready, f"serve did not start: {outcome}"
    yield ready[0]
    stop.set()
    thread.join(30)
    assert outcome == [0]


@pytest.fixture(scope="module")
def served(converse: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(converse.url, tmp_path_factory.mktemp("serve-state")) as url:
        yield url


def finished(url: str) -> dict[str, Any]:
    """The evaluation once it stopped running, polled within the usage plan's throttle (one key)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        reply = http("GET", url, api_key=SERVE_KEY)
        if reply.status == 200 and reply.json()["status"] != "RUNNING":
            return reply.json()
        time.sleep(1.0)
    raise AssertionError(f"{url} still running")


def test_a_restarted_server_finds_its_evaluations_and_reports_again(converse, tmp_path) -> None:
    state = tmp_path / "state"
    with serving(converse.url, state) as url:
        accepted = http("POST", url + "/evaluations", json.dumps(base_request()).encode(), api_key=SERVE_KEY).json()
        before = finished(url + f"/evaluations/{accepted['evaluationId']}")
    assert before["status"] == "SUCCEEDED"
    # When the server is started again on the same state folder (its Step Functions history is gone)
    with serving(converse.url, state) as url:
        after = http("GET", url + f"/evaluations/{accepted['evaluationId']}", api_key=SERVE_KEY)
        other_key = http("GET", url + f"/evaluations/{accepted['evaluationId']}", api_key=OTHER_KEY)
        assert after.status == 200, after.body
        status = after.json()
        report = http("GET", status["reportJsonUrl"], api_key=None)
    # Then the evaluation, its summary and its report are there, and still only for its owner
    assert status["status"] == "SUCCEEDED"
    assert status["summary"]["ranking"] == before["summary"]["ranking"]
    assert report.status == 200 and json.loads(report.body)["evaluationId"] == accepted["evaluationId"]
    assert other_key.status == 403  # a key this server was not given


def test_an_evaluation_cut_short_by_a_restart_says_so_and_how_to_resume(converse, tmp_path) -> None:
    state = tmp_path / "state"
    with serving(converse.url, state) as url:
        accepted = http("POST", url + "/evaluations", json.dumps(base_request()).encode(), api_key=SERVE_KEY).json()
        finished(url + f"/evaluations/{accepted['evaluationId']}")
    # Given the server died before the report was written (its report is not on disk)
    for path in (state / "reports" / accepted["evaluationId"]).iterdir():
        path.unlink()
    with serving(converse.url, state) as url:
        status = http("GET", url + f"/evaluations/{accepted['evaluationId']}", api_key=SERVE_KEY).json()
    assert status["status"] == "ABORTED" and status["error"]["error"] == "ExecutionLost"
    assert "Submit the same request again" in status["error"]["cause"]


def submit(url: str, event: Path, *extra: str, api_key: str = SERVE_KEY, out: Path) -> int:
    return main(
        [
            "submit",
            str(event),
            "--api",
            url,
            "--api-key",
            api_key,
            "--out",
            str(out),
            "--poll-interval",
            "0.05",
            "--timeout",
            "120",
            *extra,
        ]
    )


def event_file(tmp_path: Path, **changes: Any) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(base_request() | {"useCache": False} | changes), encoding="utf-8")
    return path


def test_a_gate_that_holds_passes_and_the_report_is_downloaded(served, tmp_path, capsys) -> None:
    code = submit(
        served,
        event_file(tmp_path),
        "--wait",
        "--min-score",
        "weighted=6",
        "--min-score",
        "accuracy=7",
        out=tmp_path / "out",
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "gate PASS weighted >= 6" in printed and "gate PASS accuracy >= 7" in printed
    (folder,) = (tmp_path / "out").iterdir()
    assert json.loads((folder / "report.json").read_text())["evaluationId"] == folder.name
    assert b"<html" in (folder / "report.html").read_bytes()
    assert (folder / "results.csv").read_text().startswith("evaluationId,rank,")  # as local run --out has it


def test_a_gate_that_does_not_hold_fails(served, tmp_path, capsys) -> None:
    code = submit(served, event_file(tmp_path), "--min-score", "accuracy=8", out=tmp_path / "out")
    assert code == 1
    assert "gate FAIL accuracy >= 8" in capsys.readouterr().out


def test_a_gate_on_a_criterion_the_rubric_lacks_fails(served, tmp_path, converse, capsys) -> None:
    calls = sum(converse.calls.values())
    assert submit(served, event_file(tmp_path), "--min-score", "humour=1", out=tmp_path / "out") == 1
    # Refused before the request was sent: no model was called, nothing was paid for
    assert "not sent: --min-score names the criterion 'humour'" in capsys.readouterr().out
    assert sum(converse.calls.values()) == calls and not (tmp_path / "out").exists()


def test_a_judge_that_scores_nothing_fails_with_its_own_code_and_the_report_is_downloaded(
    served, tmp_path, script, capsys
) -> None:
    # Given a judge throttled past every Retry: the answers stand, nothing is scored
    script.judge = throttled()
    code = submit(served, event_file(tmp_path), "--wait", out=tmp_path / "out")
    printed = capsys.readouterr().out
    assert code == 7, printed
    assert "the judge scored none of the answers" in printed
    (folder,) = (tmp_path / "out").iterdir()
    report = json.loads((folder / "report.json").read_text())
    assert report["judgeFailure"]["error"] == "ModelThrottledError"
    assert all(m["status"] == "ok" and m["scoreStatus"] == "not judged" for m in report["models"])


def test_no_answer_at_all_fails_with_its_own_code(served, tmp_path, script, capsys) -> None:
    script.candidate = error("AccessDeniedException", NO_ACCESS)
    code = submit(served, event_file(tmp_path), "--wait", out=tmp_path / "out")
    printed = capsys.readouterr().out
    assert code == 6, printed
    assert "nothing answered" in printed


def test_a_failed_model_fails_only_with_fail_on_error(served, tmp_path, script) -> None:
    script.by_model[FAILING_MODEL] = error("AccessDeniedException", NO_ACCESS)
    assert submit(served, event_file(tmp_path), "--wait", out=tmp_path / "a") == 0
    assert submit(served, event_file(tmp_path), "--wait", "--fail-on-error", out=tmp_path / "b") == 4


def test_a_refused_request_fails_with_the_field_named(served, tmp_path, capsys) -> None:
    code = submit(served, event_file(tmp_path, models=[]), "--wait", out=tmp_path / "out")
    assert code == 2
    assert "models:" in capsys.readouterr().out


def test_a_wrong_key_fails(served, tmp_path) -> None:
    assert submit(served, event_file(tmp_path), "--wait", api_key="not-the-key-0123456789", out=tmp_path / "o") == 2


def test_a_bad_gate_is_a_usage_error(served, tmp_path) -> None:
    assert submit(served, event_file(tmp_path), "--min-score", "accuracy", out=tmp_path / "o") == 2


def test_serve_refuses_to_start_without_a_key(converse) -> None:
    args = _parser().parse_args(["local", "serve", "--port", "0", "--converse-url", converse.url])
    assert serve(args, stop=threading.Event()) == 2


def test_a_gate_for_a_named_model_not_just_the_winner(served, tmp_path, capsys) -> None:
    llama = "meta.llama3-70b-instruct-v1:0"
    code = submit(
        served,
        event_file(tmp_path),
        "--min-score",
        f"{llama}:weighted=7",
        "--min-score",
        f"{llama}:accuracy=8",
        out=tmp_path / "out",
    )
    printed = capsys.readouterr().out
    assert code == 1, printed
    assert f"gate PASS weighted >= 7 for {llama}: {llama} scored 7" in printed
    assert f"gate FAIL accuracy >= 8 for {llama}: {llama} scored 7" in printed


def test_no_gate_passes_when_the_judge_health_check_failed_unless_allowed(served, tmp_path, script, capsys) -> None:
    # Given a judge that scores a corrupted copy of the best answer as high as the original
    script.judge = sevens
    code = submit(served, event_file(tmp_path), "--min-score", "weighted=1", out=tmp_path / "out")
    printed = capsys.readouterr().out
    assert code == 9, printed
    assert "gate PASS weighted >= 1" in printed and "gate FAIL judge health: the control check failed" in printed
    code = submit(
        served, event_file(tmp_path), "--min-score", "weighted=1", "--allow-unhealthy-judge", out=tmp_path / "out2"
    )
    assert code == 0, capsys.readouterr().out


def test_a_baseline_that_cannot_be_read_is_refused_before_the_request_is_sent(
    served, tmp_path, converse, capsys
) -> None:
    calls = sum(converse.calls.values())
    code = submit(
        served,
        event_file(tmp_path),
        "--baseline",
        "20261202T000000Z-deadbeef",
        "--max-regression",
        "weighted=0.5",
        out=tmp_path / "out",
    )
    assert code == 2
    assert "not sent: --baseline 20261202T000000Z-deadbeef: the API answered 404" in capsys.readouterr().out
    assert sum(converse.calls.values()) == calls
