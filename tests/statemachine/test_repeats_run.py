"""``repeats: k`` through the real state machine: every model asked k times (a seed per repeat where the model
takes one), every answer judged, the report's spread matching figures computed here with numpy, and a rerun
that asks nothing it already paid for."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bakeoff.estimate import cost_usd
from bakeoff.item_results import parse_jsonl
from bakeoff.models import Usage
from tests.conftest import offline
from tests.statemachine.test_dataset import DATASET, dataset_request
from tests.support.converse_fakes import ScriptedModels, answer, is_judge_call, shown_answers, verdict

COMMAND_R = "cohere.command-r-v1:0"  # Bedrock documents a seed for Command R and R+
COMMAND_R_PLUS = "cohere.command-r-plus-v1:0"
NOVA = "amazon.nova-lite-v1:0"  # no documented seed: its repeats vary by temperature alone
JUDGE = "anthropic.claude-3-haiku-20240307-v1:0"

# The judge's score of each model's answer by the seed it was made with (None: repeat 1, sent no seed).
SCORES = {
    COMMAND_R: {None: 7, 2: 8, 3: 6, 4: 9},
    COMMAND_R_PLUS: {None: 5, 2: 7, 3: 9, 4: 5},
    NOVA: {None: 4},
}
_SHOWN = re.compile(r"\((?P<model>[^)]+)\) seed=(?P<seed>\w+)")


def seeded_answer(model_id: str, request: dict):
    seed = (request.get("additionalModelRequestFields") or {}).get("seed")
    return answer(f"HOST A: The council voted 7 to 2. HOST B: A new ferry. ({model_id}) seed={seed}")


def judge_by_seed(model_id: str, request: dict):
    found = _SHOWN.search(shown_answers(request)[0])
    assert found, "the judge was shown an answer the candidates never wrote"
    seed = None if found["seed"] == "None" else int(found["seed"])
    return verdict(request, SCORES[found["model"]][seed])


def repeats_request(bedrock_request: dict, k: int) -> dict:
    return bedrock_request | {
        "models": [COMMAND_R, COMMAND_R_PLUS, NOVA],
        "judgeModelId": JUDGE,
        "repeats": k,
        "passScore": 6,
        "controlAnswer": False,
    }


def offline_with_seeds(models: ScriptedModels):
    """The offline stack with both Cohere models allowed (the deployment's default allows Command R only)."""
    return offline(models, parameters={"AllowedModelIds": [COMMAND_R, COMMAND_R_PLUS, NOVA, JUDGE]})


def candidate_calls(server) -> list[tuple[str, dict]]:
    return [(m, body) for m, body in server.requests if not is_judge_call(body)]


def test_three_repeats_are_asked_judged_and_spread_as_numpy_computes_it(bedrock_request):
    models = ScriptedModels(candidate=seeded_answer, judge=judge_by_seed)
    with offline_with_seeds(models) as (stack, server):
        # Given a request for three repeats of three models, one of them without a seed
        execution = stack.run(repeats_request(bedrock_request, 3))
        assert execution.succeeded, execution.cause
        report = stack.report(execution.evaluation_id)
        html = stack.get_object(f"reports/{execution.evaluation_id}/report.html").decode()
        asked = candidate_calls(server)
        first_calls = len(server.requests)
        # When the same request runs again
        rerun = stack.run(repeats_request(bedrock_request, 3))
        assert rerun.succeeded, rerun.cause
        rerun_report = stack.report(rerun.evaluation_id)
        calls_after_rerun = len(server.requests)
        # and then asks for a fourth repeat
        more = stack.run(repeats_request(bedrock_request, 4))
        assert more.succeeded, more.cause
        more_report = stack.report(more.evaluation_id)
        new_calls = server.requests[calls_after_rerun:]

    # Then every model was asked three times: repeat 1 without a seed, repeats 2 and 3 with seeds 2 and 3 where
    # the model takes one
    seeds = sorted((m, (body.get("additionalModelRequestFields") or {}).get("seed") or 0) for m, body in asked)
    assert seeds == sorted([(m, s) for m in (COMMAND_R, COMMAND_R_PLUS) for s in (0, 2, 3)] + [(NOVA, 0)] * 3)
    spread = report["repeats"]
    assert spread["repeats"] == 3 and spread["seeded"] == [COMMAND_R, COMMAND_R_PLUS] and spread["unseeded"] == [NOVA]

    # and each model's figures are those of its three judged answers
    for model_id, by_seed in SCORES.items():
        values = np.array([by_seed[s] for s in ((None, 2, 3) if model_id != NOVA else (None, None, None))], float)
        s = spread["models"][model_id]
        assert s["answers"] == 3 and s["items"] == 1
        assert s["mean"] == pytest.approx(values.mean(), abs=1e-4)
        assert s["sd"] == pytest.approx(values.std(ddof=1), abs=1e-4)
        assert s["sdWithin"] == pytest.approx(values.std(ddof=1), abs=1e-4)
        assert (s["min"], s["max"]) == (values.min(), values.max())
        assert s["passK"] == float((values >= 6).all()) and s["passAtK"] == float((values >= 6).any())
        assert s["ci95"] is None  # one article: no other item to resample
    # the repeats disagree on the order (Command R+ wins repeat 3)
    assert spread["rankAgreement"] == {"items": 1, "allAgree": 0.0, "sameWinner": 0.0}

    # and the page shows the spread, pass^3 and which models had seeds
    section = html.split('<section id="repeats">', 1)[1].split("</section>", 1)[0]
    assert "pass^3" in section and "seed per repeat" in section and "temperature only" in section
    assert "2.00" in section  # Command R+: the sd of 5, 7, 9
    # and the ranking uses the mean of the repeats: 7.0, 7.0, 4.0, and so do the ties (repeat 1 alone, 7 vs 5,
    # would have separated the Cohere models)
    entries = {m["modelId"]: m for m in report["models"]}
    assert set(report["ranking"][:2]) == {COMMAND_R, COMMAND_R_PLUS} and report["ranking"][2] == NOVA
    assert entries[COMMAND_R_PLUS]["weightedScore"] == pytest.approx(7.0, abs=1e-4)
    assert entries[COMMAND_R_PLUS]["scores"]["accuracy"]["score"] == pytest.approx(7.0, abs=1e-4)
    assert entries[COMMAND_R]["tiedWith"] == [COMMAND_R_PLUS] and entries[NOVA]["tiedWith"] == []
    # and the cost counts every answer: three per model
    assert entries[COMMAND_R]["usage"]["outputTokens"] == 3 * 300
    assert report["totals"]["candidateCostUsd"] == pytest.approx(sum((e["costUsd"] or 0) for e in report["models"]))

    # And the rerun asked no model anything and reports the same figures, with nothing new spent
    assert calls_after_rerun == first_calls
    assert rerun_report["repeats"]["models"] == spread["models"]
    assert rerun_report["totals"]["newSpendUsd"] == 0
    # And the fourth repeat asked only for repeat 4 (seed 4 where taken) and had only it judged
    new_candidates = [
        (m, (b.get("additionalModelRequestFields") or {}).get("seed")) for m, b in new_calls if not is_judge_call(b)
    ]
    assert sorted(new_candidates, key=str) == sorted([(COMMAND_R, 4), (COMMAND_R_PLUS, 4), (NOVA, None)], key=str)
    assert more_report["repeats"]["models"][COMMAND_R]["mean"] == pytest.approx(np.mean([7, 8, 6, 9]), abs=1e-4)


def test_the_rerun_of_a_repeated_request_calls_no_model(bedrock_request):
    models = ScriptedModels(candidate=seeded_answer, judge=judge_by_seed)
    with offline_with_seeds(models) as (stack, server):
        first = stack.run(repeats_request(bedrock_request, 3))
        calls = len(server.requests)
        second = stack.run(repeats_request(bedrock_request, 3))
        assert first.succeeded and second.succeeded
        # Then nothing paid for in the first run was asked again
        assert len(server.requests) == calls
        assert (
            stack.report(second.evaluation_id)["judgeCalls"]["cached"]
            == stack.report(second.evaluation_id)["judgeCalls"]["count"]
        )


def test_a_run_without_repeats_has_no_repeat_marks_and_no_repeats_section(bedrock_request):
    with offline_with_seeds(ScriptedModels(candidate=seeded_answer, judge=judge_by_seed)) as (stack, server):
        execution = stack.run(repeats_request(bedrock_request, 1) | {"passScore": None})
        assert execution.succeeded, execution.cause
        report = stack.report(execution.evaluation_id)
        scores = stack.get_object(f"evaluations/{execution.evaluation_id}/scores.json").decode()
        stored = stack.get_object(f"evaluations/{execution.evaluation_id}/request.json").decode()
    assert "repeats" not in report and '"repeat"' not in scores and '"repeats"' not in scores
    # and the request is stored and echoed as before the field existed
    assert "repeats" not in report["request"] and "passScore" not in report["request"]
    assert '"repeats"' not in stored
    assert not any("additionalModelRequestFields" in body for _m, body in server.requests)
    assert len(candidate_calls(server)) == 3


def test_a_dataset_with_repeats_treats_items_as_clusters(tmp_path):
    # Given two repeats per item, scores that vary by item and by seed
    def candidate(model_id, request):
        seed = (request.get("additionalModelRequestFields") or {}).get("seed")
        text = request["messages"][0]["content"][0]["text"]
        return answer(f"Summary {len(text) % 5}. ({model_id}) seed={seed}", input_tokens=200, output_tokens=20)

    def judge(model_id, request):
        shown = shown_answers(request)[0]
        item = int(re.search(r"Summary (\d)", shown)[1])
        base = 7 if f"({COMMAND_R})" in shown else 5
        return verdict(request, base + item % 3 + (1 if "seed=2" in shown else 0))

    with offline_with_seeds(ScriptedModels(candidate=candidate, judge=judge)) as (stack, server):
        request = dataset_request(stack, DATASET.read_bytes()) | {
            "models": [COMMAND_R, NOVA],
            "judgeModelId": JUDGE,
            "repeats": 2,
        }
        execution = stack.run(request)
        assert execution.succeeded, execution.cause
        report = stack.report(execution.evaluation_id)
        first_calls = len(candidate_calls(server))
        # and a rerun that asks for a third repeat
        more = stack.run(request | {"repeats": 3})
        assert more.succeeded, more.cause
        more_report = stack.report(more.evaluation_id)
        folder = stack.download_reports(execution.evaluation_id, tmp_path)
    assert first_calls == 12 * 2 * 2
    # The rerun asked only for the third repeats, and its new spend is theirs (and their verdicts') alone
    assert len(candidate_calls(server)) - first_calls == 12 * 2
    third_repeats = 12 * sum(cost_usd(m, Usage(input_tokens=200, output_tokens=20)) for m in (COMMAND_R, NOVA))
    assert more_report["totals"]["newSpendUsd"] == pytest.approx(
        third_repeats + more_report["judgeCalls"]["newSpendUsd"], abs=1e-6
    )
    assert more_report["totals"]["newSpendUsd"] < 0.5 * more_report["totals"]["totalCostUsd"]

    section = report["repeats"]
    rows = [r for r in section["perItem"] if r["modelId"] == COMMAND_R]
    assert len(rows) == 12
    per_item = np.array([r["scores"] for r in rows], float)  # 12 items x 2 repeats
    s = section["models"][COMMAND_R]
    # Then the mean is the mean of item means, sdWithin pools each item's variance (numpy, ddof=1)
    assert s["mean"] == pytest.approx(per_item.mean(axis=1).mean(), abs=1e-4)
    assert s["sdWithin"] == pytest.approx(np.sqrt(per_item.var(axis=1, ddof=1).mean()), abs=1e-4)
    assert s["sd"] == pytest.approx(per_item.ravel().std(ddof=1), abs=1e-4)
    assert s["items"] == 12 and s["answers"] == 24
    # and the dataset statistics count items, not answers: each item's value is its repeats' mean
    stats = report["dataset"]["statistics"]["models"][COMMAND_R]
    assert stats["items"] == 12
    assert stats["meanScore"] == pytest.approx(per_item.mean(axis=1).mean(), abs=1e-4)
    # results.jsonl: still one line per item x model, repeat 1's answer (its seedless first call), each
    # repeat's verdict beside it, and the line's weighted score the mean the report ranks by
    lines = parse_jsonl((folder / "results.jsonl").read_text(encoding="utf-8"))
    assert len(lines) == 12 * 2
    ours = [line for line in lines if line.model_id == COMMAND_R]
    assert [[r.weighted_score for r in line.repeats] for line in ours] == per_item.tolist()
    assert [line.weighted_score for line in ours] == pytest.approx(per_item.mean(axis=1).tolist(), abs=1e-4)
    assert all(line.answer.endswith("seed=None") for line in ours)
    # Nova takes no seed: its two repeats are the same answer, so they agree
    assert section["models"][NOVA]["sdWithin"] == 0
