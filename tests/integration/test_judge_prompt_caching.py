"""Prompt caching for the judge (issue 19): with a judge that caches prompts, every judge call of an
evaluation after the first reads the shared prefix (tools, rubric, article, task) from the cache.

The score step runs against a scripted Converse endpoint that reports cache tokens the way Bedrock does
(``tests/support/prompt_cache.py``), once with caching and once without, and the judge's billed input (input,
cache-read and cache-write tokens at the catalog's Claude Sonnet 4.5 prices) is compared.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from bakeoff.catalog import load_catalog
from bakeoff.converse import ConverseClient
from bakeoff.evaluations import EvaluationStore
from bakeoff.models import ScoreInput
from bakeoff.settings import Settings
from bakeoff.storage import Store
from bakeoff_offline.template import read_stack
from functions.score.service import score_answers
from functions.validate.service import accept
from tests.support.converse_fakes import bedrock_client, converse_server, verdict
from tests.support.prompt_cache import CachingEndpoint

ROOT = Path(__file__).resolve().parents[2]
STACK = read_stack(ROOT)
REQUEST = json.loads((ROOT / "events" / "statemachine" / "podcast-bedrock.json").read_text())
EVENT = json.loads((ROOT / "events" / "score" / "three-answers.json").read_text())
JUDGE = "anthropic.claude-sonnet-4-5-20250929-v1:0"
# Candidates whose context windows hold the long article.
MODELS = [
    "anthropic.claude-3-haiku-20240307-v1:0",
    "meta.llama3-1-70b-instruct-v1:0",
    "mistral.mistral-large-2407-v1:0",
]
ANSWER = (
    "HOST 1: Harborview's council voted 7 to 2 on Tuesday to replace the Pelham Street ferry with an "
    "electric boat for 180 passengers and 24 cars. HOST 2: It should sail in spring 2029 and costs 31.4 "
    "million dollars, 12 million of it from a state grant. HOST 1: Recap: a 7 to 2 vote, a new ferry. "
)


def long_article(parts: int) -> str:
    """The sample article and its follow-ups: a long source text, the case prompt caching is for."""
    return "\n\n".join(f"(Part {n + 1} of the Harborview ferry coverage)\n\n{REQUEST['article']}" for n in range(parts))


@pytest.fixture
def store(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=STACK.bucket_name)
        yield Store(s3, STACK.bucket_name)


def judge_run(store: Store, *, caching: bool, article: str, evaluation_id: str, **changes) -> tuple[dict, list]:
    """One score step over three answers (plus the control answer); the scores document and every call's usage."""
    settings = Settings.from_env(STACK.functions["ValidateFunction"].environment)
    # useCache off: each run asks the judge afresh instead of reusing the other run's verdict checkpoints.
    request = {
        **REQUEST,
        "article": article,
        "models": MODELS,
        "judgeModelId": JUDGE,
        "budgetUsd": None,
        "useCache": False,
        **changes,
    }
    accept(
        {k: v for k, v in request.items() if v is not None},
        evaluation_id=evaluation_id,
        created_at=datetime.now(UTC).isoformat(),
        settings=settings.model_copy(update={"ALLOWED_MODEL_IDS": (*MODELS, JUDGE)}),
        evaluations=EvaluationStore(store),
    )
    results = []
    for n, (model_id, result) in enumerate(zip(MODELS, EVENT["results"], strict=True)):
        key = f"checkpoints/answers/{evaluation_id}-{n}.json"
        store.put_checkpoint(
            key,
            {
                "modelId": model_id,
                "text": ANSWER * (n + 1),
                "stopReason": "end_turn",
                "usage": result["usage"],
                "latencyMs": 1000,
            },
        )
        results.append({**result, "modelId": model_id, "answerKey": key})
    # Every answer, the control answer (a corrupted copy of the best) included, scores 7: one call each.
    endpoint = CachingEndpoint(lambda _model, req: verdict(req, 7), delay=0.2)
    with converse_server(endpoint) as server:
        out = score_answers(
            ScoreInput.model_validate({"evaluationId": evaluation_id, "results": results}),
            store=store,
            converse=ConverseClient(bedrock_client(server.url)),
            concurrency=4,
            prompt_caching=caching,
        )
    return store.require_json(out.scores_key), endpoint.calls


def billed_input_usd(calls: list[dict[str, int]]) -> float:
    info = load_catalog().get(JUDGE)
    return (
        sum(
            c["inputTokens"] * info.input_per_1k_usd
            + c.get("cacheReadInputTokens", 0) * info.cache_read_per_1k_usd
            + c.get("cacheWriteInputTokens", 0) * info.cache_write_per_1k_usd
            for c in calls
        )
        / 1000
    )


def test_a_caching_judge_bills_at_least_60_percent_less_input_on_a_long_article(store):
    # Given three answers to a long article (about 13,000 tokens), judged with and without prompt caching
    article = long_article(11)
    # When
    cached_doc, cached = judge_run(store, caching=True, article=article, evaluation_id="ev-cache-on")
    plain_doc, plain = judge_run(store, caching=False, article=article, evaluation_id="ev-cache-off")
    # Then the same four calls (three answers, one control) were made both times
    assert len(cached) == len(plain) == 4
    assert all("cacheReadInputTokens" not in c for c in plain)
    # the first call wrote the shared prefix, the other three read it (the first went alone: see warm-up)
    assert [bool(c["cacheWriteInputTokens"]) for c in cached] == [True, False, False, False]
    assert all(c["cacheReadInputTokens"] == cached[0]["cacheWriteInputTokens"] for c in cached[1:])
    # the input each call sent is the same either way (to the stand-in tokenizer's rounding of two parts), only how
    # it is billed differs
    for with_cache, without in zip(
        sorted(c["totalTokens"] for c in cached), sorted(c["totalTokens"] for c in plain), strict=True
    ):
        assert abs(with_cache - without) <= 1
    saving = 1 - billed_input_usd(cached) / billed_input_usd(plain)
    print(
        f"judge billed input: ${billed_input_usd(plain):.6f} uncached, ${billed_input_usd(cached):.6f} cached, "
        f"{saving:.1%} less"
    )
    assert saving >= 0.60
    # and scores.json says so: cache tokens in the totals, the saving against uncached
    calls = cached_doc["judgeCalls"]
    assert calls["usage"]["cacheWriteInputTokens"] == cached[0]["cacheWriteInputTokens"]
    assert calls["usage"]["cacheReadInputTokens"] == 3 * cached[0]["cacheWriteInputTokens"]
    # (within the stand-in tokenizer's rounding: one token per call at $0.003 per 1,000)
    assert calls["uncachedCostUsd"] == pytest.approx(plain_doc["judgeCalls"]["costUsd"], abs=4 * 0.003 / 1000)
    assert calls["cacheSavingUsd"] == pytest.approx(calls["uncachedCostUsd"] - calls["costUsd"])
    assert calls["costUsd"] < plain_doc["judgeCalls"]["costUsd"]
    # per call: each answer's verdict carries its own cache tokens
    first = cached_doc["verdicts"][0]["usage"]
    assert first["cacheWriteInputTokens"] > 0 and "cacheReadInputTokens" not in first
    assert cached_doc["verdicts"][1]["usage"]["cacheReadInputTokens"] > 0


def test_caching_saves_less_on_a_short_article_and_the_figure_is_what_the_prices_say(store):
    # Given the demo-sized article (about 1,300 tokens): the answers are a larger share of each call
    cached_doc, cached = judge_run(store, caching=True, article=REQUEST["article"], evaluation_id="ev-short-on")
    _, plain = judge_run(store, caching=False, article=REQUEST["article"], evaluation_id="ev-short-off")
    saving = 1 - billed_input_usd(cached) / billed_input_usd(plain)
    print(f"short article: {saving:.1%} less judge input billed")
    # Then caching still pays, but four calls cannot save more than 1 - (1.25 + 3 x 0.1) / 4 = 61.25% of the prefix
    assert 0.2 < saving < 0.6125
    assert cached_doc["judgeCalls"]["cacheSavingUsd"] > 0


def test_a_judge_below_its_caching_minimum_gets_no_cache_point(store):
    # Given a judge whose minimum (Claude Haiku 4.5: 4,096 tokens) is above the demo article's shared prefix
    haiku = "anthropic.claude-haiku-4-5-20251001-v1:0"
    assert load_catalog().get(haiku).cache_min_tokens == 4096
    global JUDGE
    judge, JUDGE = JUDGE, haiku
    try:
        doc, calls = judge_run(store, caching=True, article=REQUEST["article"], evaluation_id="ev-below-minimum")
    finally:
        JUDGE = judge
    # Then no call carried a cachePoint, so none reports cache tokens
    assert all("cacheReadInputTokens" not in c and "cacheWriteInputTokens" not in c for c in calls)
    assert doc["judgeCalls"]["cacheSavingUsd"] == 0
