"""Dataset mode with each line's reference answer and judge probes: the reference reaches the judge
of its own item only, the report shows it with each model's closeness to it, and the probes are
counted per kind over the items."""

from __future__ import annotations

import json
import re

from converse_local import wire
from tests.conftest import offline
from tests.statemachine.test_dataset import CLAUDE, NOVA, dataset_request
from tests.support.converse_fakes import is_judge_call, verdict

ARTICLE = (
    "The council of {town} voted 7 to 2 on Tuesday to approve a new electric ferry for the island, "
    "ending a three-year debate about how residents should reach the mainland."
)
TOWNS = {"a": "Eastport", "b": "Westbury", "c": "Northgate"}
REFERENCES = {"a": "{town} approved an electric ferry by 7 votes to 2.", "c": "{town} approved the ferry."}
_ANSWER = re.compile(r'<candidate_answer label="[A-Z]">\n(.*?)\n</candidate_answer>', re.DOTALL)
_REFERENCE = re.compile(r"<reference_answer>\n(.*?)\n</reference_answer>", re.DOTALL)


def body() -> bytes:
    lines = []
    for item, town in TOWNS.items():
        line = {"id": item, "article": ARTICLE.format(town=town)}
        if item in REFERENCES:
            line["reference"] = REFERENCES[item].format(town=town)
        lines.append(json.dumps(line))
    return "\n".join(lines).encode()


def test_each_items_reference_reaches_its_judge_and_the_report_counts_probes_per_kind():
    seen: list[tuple[str, str | None]] = []  # (the item's town, the reference shown to the judge)
    candidate_texts: list[str] = []

    def respond(model_id, request):
        text = wire.last_user_text(request)
        if is_judge_call(request):
            town = next(t for t in TOWNS.values() if t in text)
            reference = _REFERENCE.search(text)
            seen.append((town, reference.group(1) if reference else None))
            answer = _ANSWER.search(text).group(1)
            # the judge notices the negated outcome on Eastport's item only
            return verdict(request, 3 if "rejected" in answer and town == "Eastport" else 8)
        town = next(t for t in TOWNS.values() if t in text)
        candidate_texts.append(json.dumps(request))
        return wire.text_response(
            f"{town} approved an electric ferry by 7 votes to 2. ({model_id})", input_tokens=200, output_tokens=20
        )

    with offline(respond) as (stack, _server):
        request = dataset_request(stack, body()) | {"judgeProbes": ["negation"]}
        execution = stack.run(request)
        assert execution.succeeded, execution.cause
        report = stack.report(execution.evaluation_id)

    # Each judge call saw its own item's reference, and none where the line had none
    expected = {TOWNS[i]: (REFERENCES[i].format(town=TOWNS[i]) if i in REFERENCES else None) for i in TOWNS}
    assert seen and all(reference == expected[town] for town, reference in seen)
    # and no candidate was shown a reference
    assert len(candidate_texts) == 6 and not any(
        "votes to 2" in t or "approved the ferry" in t for t in candidate_texts
    )
    # The report lists the references and each model's closeness to them over the two items that had one
    dataset = report["dataset"]
    assert dataset["itemsWithReference"] == 2
    assert {r["itemId"]: r.get("reference") for r in dataset["perItem"]} == {
        "a": "Eastport approved an electric ferry by 7 votes to 2.",
        "b": None,
        "c": "Northgate approved the ferry.",
    }
    for entry in report["models"]:
        assert entry["referenceMetrics"]["items"] == 2
        assert 0 < entry["referenceMetrics"]["tokenF1"] < 1 and 0 < entry["referenceMetrics"]["rougeL"] < 1
    # The negation probe: caught on one item of three, so the judge misses negations
    probes = report["judgeHealth"]["probes"]
    assert probes["results"]["negation"] == {
        "caught": 1,
        "missed": 2,
        "inconclusive": 0,
        "catchRate": 0.3333,
        "passed": False,
    }
    assert probes["summary"].startswith("the judge misses negations")
    assert {CLAUDE, NOVA} == {e["modelId"] for e in report["models"]}
