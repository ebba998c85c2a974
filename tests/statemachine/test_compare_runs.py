"""Comparing real runs: `bakeoff local run --dataset` through the real state machine (a scripted Converse
endpoint is the only fake), then `bakeoff compare` and the `--baseline` gates on what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bakeoff_cli.exit_codes import Exit
from bakeoff_cli.main import main
from converse_local import wire
from tests.conftest import EVENTS
from tests.support.converse_fakes import converse_server, is_judge_call, verdict

DATASET = EVENTS / "datasets" / "council-votes-12.jsonl"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-lite-v1:0"


def responder(nova_penalty: int):
    """Claude is judged 7-9 and nova 5-7 by item; nova loses ``nova_penalty`` on all but one item."""

    def respond(model_id, request):
        text = request["messages"][0]["content"][0]["text"]
        if is_judge_call(request):
            # Varies by item, the same for both models' answers to one item (the article only: the rest of the
            # judge's prompt may change wording without changing these figures).
            spread = len(text.split("</article>", 1)[0]) % 3
            if "(anthropic" in text:
                return verdict(request, 7 + spread)
            penalty = 0 if "Northgate" in text else nova_penalty  # item-07 unchanged
            return verdict(request, max(1, 5 + spread - penalty))
        return wire.text_response(f"A one-line summary. ({model_id})", input_tokens=200, output_tokens=20)

    return respond


def local_run(monkeypatch, event: Path, out: Path, nova_penalty: int, *gates: str) -> tuple[int, dict]:
    with converse_server(responder(nova_penalty)) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
        before = set(out.glob("*/report.json"))
        code = main(
            [
                "local",
                "run",
                str(event),
                "--dataset",
                str(DATASET),
                "--out",
                str(out),
                "--no-open",
                "--no-checkpoints",
                "--reports",
                str(out),
                *gates,
            ]
        )
    (written,) = set(out.glob("*/report.json")) - before
    return code, json.loads(written.read_text())


@pytest.fixture
def event(tmp_path: Path) -> Path:
    path = tmp_path / "event.json"
    request = json.loads((EVENTS / "statemachine" / "dataset-bedrock.json").read_text())
    path.write_text(json.dumps(request | {"controlAnswer": False}))
    return path


def test_a_model_made_worse_fails_the_baseline_gate_and_compare_an_unchanged_one_passes(
    monkeypatch, tmp_path, event, capsys
):
    out = tmp_path / "out"
    # Given a baseline run
    code, baseline = local_run(monkeypatch, event, out, 0)
    assert code == Exit.OK
    base_id = baseline["evaluationId"]

    # When the same models run again unchanged, gated against the baseline
    code, same = local_run(
        monkeypatch,
        event,
        out,
        0,
        "--baseline",
        base_id,
        "--max-regression",
        "weighted=0.5",
        "--min-score",
        f"{NOVA}:weighted=5",
    )
    printed = capsys.readouterr().out
    # Then every gate holds, and compare says there is no significant change
    assert code == Exit.OK, printed
    assert f"gate PASS weighted drop <= 0.5 for {NOVA}" in printed
    assert main(["compare", base_id, same["evaluationId"], "--reports", str(out)]) == Exit.OK
    assert capsys.readouterr().out.rstrip().endswith("no significant change")
    table = (out / "compare.md").read_text()
    assert "| Nova Lite | weighted | 5.83 | 5.83 | +0.00 | n=12, no difference | no change |" in table

    # When nova is judged 2 points lower on 11 of the 12 items
    code, worse = local_run(monkeypatch, event, out, 2, "--baseline", base_id, "--max-regression", "weighted=0.5")
    printed = capsys.readouterr().out
    # Then the gate fails the run, with the paired test's figures
    assert code == Exit.REGRESSED, printed
    assert f"gate FAIL weighted drop <= 0.5 for {NOVA}" in printed and "significant" in printed
    assert f"gate PASS weighted drop <= 0.5 for {CLAUDE}" in printed

    # And compare says so too, with scipy's p for the per-item differences of the two reports
    assert (
        main(
            [
                "compare",
                str(out / base_id),
                str(out / worse["evaluationId"] / "report.json"),
                "--json",
                str(tmp_path / "c.json"),
            ]
        )
        == Exit.REGRESSED
    )
    diffs = np.array(per_item(worse, NOVA)) - np.array(per_item(baseline, NOVA))
    assert (diffs < 0).sum() == 11 and (diffs == 0).sum() == 1
    nova = next(
        c
        for c in json.loads((tmp_path / "c.json").read_text())["changes"]
        if c["modelId"] == NOVA and c["criterion"] == "weighted"
    )
    # scipy drops the zero difference as bakeoff does ("wilcox"); its exact test needs distinct |diffs|,
    # so with these tied differences it is the permutation test that bakeoff's exact p must equal
    expected = stats.wilcoxon(diffs, zero_method="wilcox", method=stats.PermutationMethod(n_resamples=np.inf))
    assert nova["wilcoxonP"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert nova["significant"] and nova["delta"] == pytest.approx(diffs.mean(), abs=1e-4)


def per_item(report: dict, model_id: str) -> list[float]:
    rows = sorted((r for r in report["dataset"]["rows"] if r["modelId"] == model_id), key=lambda r: r["itemId"])
    return [r["weightedScore"] for r in rows]


def test_a_gate_that_names_an_unknown_model_is_refused_before_any_model_is_called(monkeypatch, tmp_path, event, capsys):
    calls: list[str] = []

    def respond(model_id, request):
        calls.append(model_id)
        raise AssertionError("no model may be called")

    with converse_server(respond) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
        code = main(
            [
                "local",
                "run",
                str(event),
                "--dataset",
                str(DATASET),
                "--out",
                str(tmp_path / "out"),
                "--no-open",
                "--min-score",
                "meta.llama3-70b-instruct-v1:0:weighted=7",
            ]
        )
    assert code == Exit.REFUSED_LOCAL and calls == []
    assert (
        "names the model 'meta.llama3-70b-instruct-v1:0', which the request does not run"
        in capsys.readouterr().out.replace("\n", " ")
    )
