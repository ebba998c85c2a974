"""``bakeoff estimate``'s quote (issue 19): a 10,000-item, 3-model dataset run checked against a hand
computation, every figure written out below from the catalog's prices (models.json, asOf 2026-12)."""

from __future__ import annotations

import json

import pytest

from bakeoff.estimate import QuoteAssumptions, quote
from bakeoff.models import DatasetItem
from bakeoff.settings import Settings
from bakeoff.validation import validate_request
from bakeoff_cli.main import main

HAIKU45, NOVA_LITE, LLAMA70 = (
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "amazon.nova-lite-v1:0",
    "meta.llama3-1-70b-instruct-v1:0",
)
NOVA_PRO = "amazon.nova-pro-v1:0"
ARTICLE = ("The council voted seven to two for the new electric ferry on Tuesday night. " * 60)[:4000]
PROMPT = ("Summarise the article in one accurate sentence and keep every number as written, please. " * 2)[:100]
REQUEST = {
    "dataset": {"s3Uri": "s3://bucket-name/datasets/big.jsonl"},
    "models": [HAIKU45, NOVA_LITE, LLAMA70],
    "judgeModelId": NOVA_PRO,
    "prompt": PROMPT,
    "scoringCriteria": {"accuracy": 5, "completeness": 3},
    "maxTokens": 200,
}
ITEMS = 10_000


@pytest.fixture(scope="module")
def big_quote():
    assert len(ARTICLE) == 4000 and len(PROMPT) == 100
    items = [DatasetItem(id=f"item-{n:05d}", article=ARTICLE) for n in range(ITEMS)]
    settings = Settings(BUCKET_NAME="bucket", MAX_COST_PER_EVALUATION_USD=1e6)
    evaluation = validate_request(
        REQUEST, evaluation_id="ev-quote", created_at="2026-01-01T00:00:00+00:00", settings=settings, items=items
    )
    assume = QuoteAssumptions(
        tokens_per_minute=1_000_000,
        dataset_max_concurrency=1000,
        map_max_concurrency=5,
        judge_concurrency=4,
        lambda_memory_mb=512,
        output_tokens_per_second=50,
        fixed_seconds_per_call=1,
    )
    return quote(evaluation.request, evaluation.judge_model_ids, [i.article for i in items], assume)


def test_tokens_and_model_dollars_match_the_hand_computation(big_quote):
    q = big_quote
    # Tokens, per item: estimate_tokens(text) = int(len / chars-per-token) + 1.
    #  Claude (3.5 c/t): prompt int(100/3.5)+1 = 29, article int(4000/3.5)+1 = 1143, + 10 = 1182 in, 200 out
    #  Nova Lite, Llama (4.0 c/t): 26 + 1001 + 10 = 1037 in, 200 out
    #  judge Nova Pro (4.0): 4 calls (3 answers + the control answer), each 1001 article + 26 prompt + 450 overhead
    #  + 2 x 120 criteria + 200 answer = 1917 in, 200 + 2 x 120 = 440 out: 7668 in, 1760 out an item
    lines = {line.model_id: line for line in q.estimate.lines}
    assert (lines[HAIKU45].input_tokens, lines[HAIKU45].output_tokens) == (1182 * ITEMS, 200 * ITEMS)
    assert (lines[NOVA_LITE].input_tokens, lines[LLAMA70].input_tokens) == (1037 * ITEMS, 1037 * ITEMS)
    assert (lines[NOVA_PRO].calls, lines[NOVA_PRO].input_tokens, lines[NOVA_PRO].output_tokens) == (
        4 * ITEMS,
        7668 * ITEMS,
        1760 * ITEMS,
    )
    # On demand, per item ($ per 1,000 tokens):
    #  Claude Haiku 4.5: 1182 x 0.001 + 200 x 0.005 = 2.182 / 1000      -> x 10,000 = $21.82
    #  Nova Lite:        1037 x 0.00006 + 200 x 0.00024 = 0.11022 / 1000 -> $1.1022
    #  Llama 3.1 70B:    1237 x 0.00072 = 0.89064 / 1000                  -> $8.9064
    #  judge Nova Pro:   7668 x 0.0008 + 1760 x 0.0032 = 11.7664 / 1000   -> $117.664
    assert lines[HAIKU45].cost_usd == pytest.approx(21.82)
    assert lines[NOVA_LITE].cost_usd == pytest.approx(1.1022)
    assert lines[LLAMA70].cost_usd == pytest.approx(8.9064)
    assert lines[NOVA_PRO].cost_usd == pytest.approx(117.664)
    assert q.on_demand_usd == pytest.approx(21.82 + 1.1022 + 8.9064 + 117.664)  # $149.4926
    # Batch: candidates at half price (no batch prices in the catalog for them), the judge on demand:
    #  10.91 + 0.5511 + 4.4532 + 117.664 = $133.5783
    assert q.batch_usd == pytest.approx(10.91 + 0.5511 + 4.4532 + 117.664)
    # Judge prompt cache: the shared prefix is 1001 + 26 + 450 + 240 = 1717 tokens (>= Nova's 1,000 minimum);
    # an item's first call writes it (no cache-write price: at the input price), the other 3 read it at 0.0002:
    #  (7668 - 1717 - 3 x 1717 = 800) x 0.0008 + 1760 x 0.0032 + 5151 x 0.0002 + 1717 x 0.0008
    #  = 0.64 + 5.632 + 1.0302 + 1.3736 = 8.6758 / 1000 -> $86.758 instead of $117.664
    assert q.cached_usd == pytest.approx(21.82 + 1.1022 + 8.9064 + 86.758)


def test_orchestration_and_time_match_the_hand_computation(big_quote):
    q = big_quote
    # Standard: Validate, SingleOrDataset, EvaluateItems, ReportDataset, then per item InvokeItemModels, 3 x
    # InvokeModel, ScoreItem, ItemDone: 4 + 10,000 x 6 = 60,004 transitions x $0.025 / 1,000 = $1.5001
    assert q.step_functions["standardTransitions"] == 60_004
    assert q.step_functions["standardUsd"] == pytest.approx(1.5001)
    # Time per item: a candidate 1 s + 200 / 50 = 5 s (all 3 at once); the judge's 4 calls 4 at a time,
    # 1 + 440 / 50 = 9.8 s: 14.8 s an item
    assert q.item_seconds == pytest.approx(14.8)
    # Express children: the parent's 4 transitions ($0.0001) + 10,000 requests x $1 / M ($0.01)
    # + 10,000 x 0.0625 GB x 14.8 s = 9,250 GB-s x $0.00001667 ($0.1541975) = $0.1642975
    assert q.step_functions["expressRequests"] == 10_000
    assert q.step_functions["expressGbSeconds"] == pytest.approx(9_250)
    assert q.step_functions["expressUsd"] == pytest.approx(0.0001 + 0.01 + 0.1541975, abs=1e-6)
    # Lambda: Validate + Report + per item 3 InvokeModel + 1 Score = 40,002 invocations x $0.20 / M = $0.0080004;
    # 0.5 GB x (2 x 1 s + 10,000 x (3 x 5 + 9.8) s) = 124,001 GB-s x $0.0000166667 = $2.06668...
    assert q.lambda_["invocations"] == 40_002
    assert q.lambda_["gbSeconds"] == pytest.approx(124_001)
    assert q.lambda_["usd"] == pytest.approx(0.0080004 + 124_001 * 0.0000166667, abs=1e-6)
    # Quota: an item reserves 7668 + 1760 = 9,428 tokens of the judge's quota (the heaviest model):
    # 1,000,000 // 9,428 = 106 items at once; 10,000 / 106 -> 95 waves x 14.8 s = 1,406 s; but the judge's
    # 94,280,000 tokens take 94.28 minutes of its quota: 5,656.8 s, the bound
    assert q.concurrency == 106
    assert q.wall_seconds == pytest.approx(5_656.8)
    assert q.wall_bound == "quota"
    # Orchestration is a few percent of the bill: tokens decide cost
    orchestration = q.step_functions["standardUsd"] + q.lambda_["usd"]
    assert 0.01 < orchestration / (q.on_demand_usd + orchestration) < 0.03


def test_the_cli_prints_the_quote_and_says_validate_would_refuse_it(tmp_path, capsys):
    # Given the same request on disk, 10,000 lines of dataset, and a budget far below the quote
    event = tmp_path / "big.json"
    event.write_text(json.dumps({**REQUEST, "budgetUsd": 5}))
    dataset = tmp_path / "big.jsonl"
    dataset.write_text("".join(json.dumps({"id": f"item-{n:05d}", "article": ARTICLE}) + "\n" for n in range(ITEMS)))
    # When
    code = main(
        [
            "estimate",
            str(event),
            "--dataset",
            str(dataset),
            "--tokens-per-minute",
            "1000000",
            "--dataset-concurrency",
            "1000",
            "--json",
        ]
    )
    # Then
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["items"] == ITEMS
    assert printed["onDemandUsd"] == pytest.approx(149.4926)
    assert printed["stepFunctions"]["standardTransitions"] == 60_004
    assert printed["validateWouldRefuse"] == ["budgetUsd $5.00", "MaxCostPerEvaluationUsd $2.00"]
    # and as a table
    assert main(["estimate", str(event), "--dataset", str(dataset), "--tokens-per-minute", "1000000"]) == 0
    table = capsys.readouterr().out
    assert "$149.49" in table and "60,004 transitions" in table and "Validate would refuse this run" in table


def test_a_bad_request_is_refused_with_its_fields(tmp_path, capsys):
    event = tmp_path / "bad.json"
    event.write_text(json.dumps({**REQUEST, "dataset": None, "article": ARTICLE, "maxTokens": 5}))
    assert main(["estimate", str(event)]) == 1
    assert "maxTokens" in capsys.readouterr().out


def test_a_dataset_request_needs_its_file(tmp_path, capsys):
    event = tmp_path / "ds.json"
    event.write_text(json.dumps(REQUEST))
    assert main(["estimate", str(event)]) == 2
    assert "--dataset FILE" in capsys.readouterr().out
