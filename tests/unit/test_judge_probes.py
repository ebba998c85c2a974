"""Judge probes: one planted error per kind, deterministic from the answer; the check per kind and
what it says ("the judge misses negations"), for one article and over a dataset."""

from __future__ import annotations

import pytest

from bakeoff.metrics import numbers, proper_names
from bakeoff.models import Verdict
from bakeoff.probes import aggregate, outcome
from functions.score.probes import CLAIMS, add_claim, change_one_number, negate, plant, probe_result, swap_one_name

ARTICLE = (
    "Mayor Lucinda Ortega and Councilman Derek Oyelaran debated the Pelham Street ferry in Harborview. "
    "The council voted 7 to 2; the boat carries 180 passengers."
)
SCRIPT = (
    "HOST 1: The council voted 7 to 2 to replace the Pelham Street ferry.\n"
    "HOST 2: The electric boat carries 180 passengers, says Mayor Lucinda Ortega.\n"
    "HOST 1: Recap: 7 votes for, 180 passengers."
)


def _changed_lines(a: str, b: str) -> list[tuple[str, str]]:
    return [(x, y) for x, y in zip(a.splitlines(), b.splitlines(), strict=True) if x != y]


@pytest.mark.parametrize(
    ("text", "flipped"),
    [
        ("The company released the drug in May.", "The company withdrew the drug in May."),  # the pair
        ("The bank voted to cut rates.", "The bank voted to raise rates."),  # and its other one
        ("Fares Rose by 9 percent.", "Fares Fell by 9 percent."),
        ("The fare will not rise before 2030.", "The fare will rise before 2030."),
        ("The fare won't rise.", "The fare will rise."),
        ("They didn’t approve it.", "They did approve it."),
        ("The boat is electric.", "The boat is not electric."),
        ("It can sail in storms.", "It cannot sail in storms."),
    ],
)
def test_negation_turns_the_first_outcome_into_its_opposite(text, flipped):
    assert negate(text).text == flipped


def test_negation_changes_one_word_only_and_says_which():
    probe = negate("The council approved the plan and rejected the site.")
    assert probe.text == "The council rejected the plan and rejected the site."
    assert probe.changes == ["“approved” → “rejected”"]


def test_a_number_probe_changes_one_stated_number_everywhere_and_no_label():
    probe = change_one_number(SCRIPT, ARTICLE)
    assert probe.changes == ["7 → 3"]
    assert sorted(numbers(probe.text)) == sorted(numbers(SCRIPT.replace("7", "3")))
    assert probe.text.count("HOST 1:") == 2  # speaker labels are not facts
    assert "180" in probe.text


def test_a_name_probe_puts_another_name_of_the_article_in_place_of_the_first():
    probe = swap_one_name(SCRIPT, ARTICLE)
    first = proper_names(SCRIPT)[0]
    assert first == "Pelham Street" and first not in probe.text
    replacement = probe.changes[0].split(" → ")[1]
    assert replacement in proper_names(ARTICLE) and replacement not in SCRIPT
    assert len(_changed_lines(SCRIPT, probe.text)) == 1


def test_a_name_probe_without_other_names_trades_the_answers_two():
    probe = swap_one_name(
        "Mayor Ortega met Derek Oyelaran. Then Derek Oyelaran left.", "Mayor Ortega met Derek Oyelaran."
    )
    assert probe.text == "Derek Oyelaran met Mayor Ortega. Then Mayor Ortega left."


def test_a_claim_is_added_after_the_first_sentence_and_nothing_else_changes():
    probe = add_claim(SCRIPT)
    claim = next(c for c in CLAIMS if c in probe.text)
    assert probe.text.replace(" " + claim, "") == SCRIPT
    assert probe.text.splitlines()[0].endswith(claim)


@pytest.mark.parametrize("kind", ["number", "negation", "name", "claim"])
def test_every_probe_is_deterministic_and_differs_from_the_answer(kind):
    first, again = plant(kind, SCRIPT, ARTICLE), plant(kind, SCRIPT, ARTICLE)
    assert first == again and first.text != SCRIPT and len(first.changes) == 1


def test_a_kind_with_nothing_to_change_is_not_applicable():
    plain = "nothing here to see"
    assert plant("number", plain, ARTICLE).changes == []
    assert plant("negation", plain, ARTICLE).changes == []
    assert plant("name", plain, ARTICLE).changes == []
    result = probe_result("number", "m", plant("number", plain, ARTICLE), {}, {})
    assert result == {"passed": None, "applicable": False, "reason": "nothing in the answer to plant number into"}


def _verdict(score: float | None) -> Verdict:
    if score is None:
        return Verdict(model_id="m", judge_model_id="j", status="unscored", reason="no JSON")
    return Verdict(model_id="m", judge_model_id="j", status="scored", weighted_score=score)


def test_a_probe_is_caught_only_when_scored_strictly_below_the_original():
    probe = negate("The council approved the plan.")
    caught = probe_result("negation", "m", probe, {"j": _verdict(8.0)}, {"j": _verdict(5.0)})
    missed = probe_result("negation", "m", probe, {"j": _verdict(8.0)}, {"j": _verdict(8.0)})
    unknown = probe_result("negation", "m", probe, {"j": _verdict(8.0)}, {"j": _verdict(None)})
    assert (caught["passed"], caught["originalScore"], caught["probeScore"]) == (True, 8.0, 5.0)
    assert missed["passed"] is False and missed["change"] == "“approved” → “rejected”"
    assert unknown["passed"] is None and unknown["reason"].startswith("the probe was inconclusive")


def test_the_outcome_names_the_missed_kinds():
    got = outcome({"number": {"passed": True}, "negation": {"passed": False}, "name": {"passed": None}})
    assert (got["caught"], got["missed"], got["inconclusive"]) == (["number"], ["negation"], ["name"])
    assert got["summary"] == "the judge misses negations (an outcome turned into its opposite)"
    both = outcome({"negation": {"passed": False}, "claim": {"passed": False}, "name": {"passed": False}})
    assert both["summary"] == (
        "the judge misses negations (an outcome turned into its opposite), unsupported claims and swapped names"
    )
    assert outcome({"number": {"passed": True}})["summary"] == "the judge caught every probe (number)"
    assert outcome({"number": {"passed": None}})["summary"] is None


def test_a_dataset_counts_each_kind_over_the_items():
    items = [
        {"kinds": ["number", "negation"], "results": {"number": {"passed": True}, "negation": {"passed": v}}}
        for v in (False, True, True, None)
    ]
    got = aggregate([*items, None])
    assert got["results"]["negation"] == {
        "caught": 2,
        "missed": 1,
        "inconclusive": 1,
        "catchRate": 0.6667,
        "passed": False,
    }
    assert got["results"]["number"]["catchRate"] == 1.0
    assert got["missed"] == ["negation"] and got["caught"] == ["number"]
    assert aggregate([None, None]) is None
