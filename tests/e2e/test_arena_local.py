"""Arena mode with real local models: three candidates, every pair judged in both orders by the 1.5B judge.

The scripted arena (tests/statemachine/test_arena_run.py) checks the statistics on 30 items with a judge whose
bias is known; this run checks that real models go through the same path: the pairwise prompt and its
forced tool call on a real judge, Bradley-Terry ratings raw and length-controlled, and the position flip rate
measured on what the judge really did (one article: the ratings carry no interval, and the report says so).
"""

from __future__ import annotations

import pytest

from tests.conftest import EVENTS
from tests.e2e.conftest import require_models
from tests.e2e.test_offline_demo import QWEN_05, QWEN_15, SMOLLM, only_report, run_cli

GEMMA = "local.gemma-3-270m-base-v1:0"
CANDIDATES = [SMOLLM, QWEN_05, GEMMA]


@pytest.mark.llama
def test_an_arena_of_three_local_models_reports_ratings_and_the_flip_rate(tmp_path):
    require_models(*CANDIDATES, QWEN_15)
    # Given the sample arena request: three local candidates, the 1.5B model as the judge
    event = EVENTS / "statemachine" / "arena-local.json"
    # When it runs through the real state machine
    result = run_cli("local", "run", str(event), "--out", str(tmp_path / "out"), "--no-open")
    # Then it ranks them (pointwise scores exist) and the report carries the arena beside them
    assert result.returncode == 0, result.stdout + result.stderr
    report = only_report(tmp_path / "out")
    assert sorted(m["modelId"] for m in report["models"]) == sorted(CANDIDATES)
    assert all(m["status"] == "ok" and m["output"].strip() for m in report["models"]), report["models"]
    arena = report["arena"]
    # Three pairs, each judged in both orders: three battles (a flip counts as a tie), on one item
    assert arena["items"] == 1 and arena["battles"] == 3
    pairwise = report["judgeHealth"]["pairwise"]
    assert pairwise["pairs"] == 3 and len(pairwise["results"]) == 3
    assert all(line["judgeModelId"] == QWEN_15 and len(line["orders"]) == 2 for line in pairwise["results"])
    # The flip rate is what the judge did: the share of pairs whose winner changed with the order
    flipped = sum(1 for line in pairwise["results"] if line["flipped"])
    assert arena["positionFlipRate"] == pytest.approx(flipped / 3, abs=1e-4)
    for column in ("ratings", "lengthControlled"):
        assert sorted(r["modelId"] for r in arena[column]) == sorted(CANDIDATES)
        assert sorted(r["rank"] for r in arena[column]) == [1, 2, 3]
    # One article: no interval, said in words rather than hidden
    assert any("One item" in line for line in arena["separability"]), arena["separability"]
    html = (next((tmp_path / "out").glob("*/report.html"))).read_text()
    assert 'id="arena-ratings"' in html and "Length-controlled" in html
