"""Arena mode end to end: `bakeoff local run --dataset` through the real state machine, three candidates, every
pair judged in both orders by a scripted judge that rewards length (the Converse endpoint is the only fake).

The judge's bias is the one AlpacaEval 2 corrects: it prefers the longer answer more often than quality
explains. "ALPHA" writes the best, shortest answers; "BETA" worse, longer ones; "GAMMA" the worst, of middling
length. Raw Bradley-Terry ratings put BETA first; the length-controlled ones put ALPHA first again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

from bakeoff_cli.exit_codes import Exit
from bakeoff_cli.main import main
from tests.conftest import EVENTS
from tests.support.converse_fakes import (
    ScriptedModels,
    answer,
    converse_server,
    preference,
    shown_answers,
    verdict,
)

ALPHA, BETA, GAMMA = "anthropic.claude-3-haiku-20240307-v1:0", "amazon.nova-lite-v1:0", "amazon.nova-micro-v1:0"
MARK = {ALPHA: "ALPHA", BETA: "BETA", GAMMA: "GAMMA"}
QUALITY = {"ALPHA": 1.0, "BETA": 0.0, "GAMMA": -1.0}
MEAN_WORDS = {ALPHA: 40, BETA: 110, GAMMA: 70}
ITEMS = 30


def _unit(*parts: str) -> float:
    """A deterministic draw in [0, 1) from text: the same pair of answers gets the same draw in both orders."""
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:12], 16) / 16**12


def candidate(model_id: str, request: dict) -> dict:
    article = request["messages"][0]["content"][0]["text"]
    # Lengths vary by item around each model's mean, so length is not the same thing as the model.
    words = MEAN_WORDS[model_id] + int(_unit(model_id, article) * 80) - 40
    return answer(f"{MARK[model_id]} " + " ".join(["word"] * max(5, words)), input_tokens=300, output_tokens=words)


def _mark(text: str) -> str:
    return text.split()[0]


def judge(model_id: str, request: dict) -> dict:
    shown = shown_answers(request)
    if len(shown) == 1:  # pointwise: by quality alone
        return verdict(request, {"ALPHA": 8, "BETA": 6, "GAMMA": 4}[_mark(shown[0])])
    # Decided on the pair in a fixed order, so the same two answers get the same winner in both orders.
    one, other = sorted(shown)
    d = len(one.split()) - len(other.split())
    z = QUALITY[_mark(one)] - QUALITY[_mark(other)] + 3.0 * math.tanh(d / 40)
    winner = one if _unit(one, other) < 1 / (1 + math.exp(-z)) else other
    return preference(request, "A" if shown[0] == winner else "B")


def test_an_arena_over_three_models_rates_them_raw_and_length_controlled(monkeypatch, tmp_path: Path):
    dataset = tmp_path / "items.jsonl"
    base = json.loads((EVENTS / "datasets" / "council-votes-12.jsonl").read_text().splitlines()[0])["article"]
    dataset.write_text(
        "".join(json.dumps({"id": f"item-{i:02d}", "article": f"{base} (Edition {i}.)"}) + "\n" for i in range(ITEMS))
    )
    event = tmp_path / "event.json"
    request = json.loads((EVENTS / "statemachine" / "dataset-bedrock.json").read_text())
    event.write_text(json.dumps(request | {"models": [ALPHA, BETA, GAMMA], "mode": "arena", "controlAnswer": False}))
    out = tmp_path / "out"

    models = ScriptedModels(candidate=candidate, judge=judge)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    with converse_server(models) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
        code = main(
            ["local", "run", str(event), "--dataset", str(dataset), "--out", str(out), "--no-open", "--no-checkpoints"]
        )
    assert code == Exit.OK
    # The CLI quiets the handlers' metrics for its run only, not for the rest of the process
    assert "POWERTOOLS_METRICS_DISABLED" not in os.environ
    (written,) = out.glob("*/report.json")
    report = json.loads(written.read_text())

    # Every pair in both orders on every item: 6 comparisons per item beside 3 pointwise verdicts
    comparisons = [r for r in models.requests if len(shown_answers(r)) == 2]
    assert len(comparisons) == ITEMS * 6
    arena = report["arena"]
    assert arena["items"] == ITEMS and arena["battles"] == ITEMS * 3 and arena["resamples"] == 500
    raw = [r["modelId"] for r in arena["ratings"]]
    controlled = [r["modelId"] for r in arena["lengthControlled"]]
    # The biased judge's raw ratings put the long answers first; held at equal length, the best is first
    assert raw[0] == BETA, arena
    assert controlled[0] == ALPHA, arena
    assert arena["lengthCoefficient"] > 1.0
    for rating in arena["ratings"] + arena["lengthControlled"]:
        assert rating["ciLow"] < rating["rating"] < rating["ciHigh"]
    # The judge saw the same pair the same way in both orders here: no flips
    assert arena["positionFlipRate"] == 0.0
    # Pointwise and arena side by side in the page
    html = (written.parent / "report.html").read_text()
    assert 'id="arena-ratings"' in html and "Length-controlled" in html
    assert "read the length-controlled column" in html
    pointwise = [m["modelId"] for m in report["models"]]
    assert pointwise == [ALPHA, BETA, GAMMA]
