"""The control answer: a deterministic corruption of the best answer, and the check on its score."""

from __future__ import annotations

import pytest

from bakeoff.metrics import NUMBER, numbers, proper_names
from bakeoff.models import Verdict
from functions.score.control import FABRICATED_CLAIM, best_answer, change_number, control_result, corrupt

ARTICLE = "Mayor Lucinda Ortega and Councilman Derek Oyelaran debated the Pelham Street ferry in Harborview."
SCRIPT = (
    "HOST 1: The council voted 7 to 2 to replace the Pelham Street ferry.\n"
    "HOST 2: The electric boat carries 180 passengers and 24 cars, from spring 2029.\n"
    "HOST 1: Mayor Lucinda Ortega called it the biggest decision of her time.\n"
    "HOST 2: Recap: 31.4 million dollars, 12 million of it from the state."
)


@pytest.mark.parametrize(
    ("token", "changed"),
    [("7", "3"), ("2", "5"), ("0", "3"), ("9", "5"), ("2,300", "5,300"), ("31.4", "61.4"), ("0.5", "3.5")],
)
def test_change_number_changes_the_first_digit_and_keeps_the_shape(token, changed):
    assert change_number(token) == changed


def test_corruption_changes_every_number_swaps_names_and_shuffles_lines():
    # When
    control = corrupt(SCRIPT, ARTICLE)
    # Then: every number is changed ("180" → "480", the host labels too), none is kept
    assert sorted(numbers(control.text)) == sorted(change_number(t) for t in NUMBER.findall(SCRIPT))
    assert not {"180", "24", "2029", "31.4"} & set(numbers(control.text))
    # the two names trade places
    assert "Pelham Street ferry" not in control.text
    assert "Mayor Lucinda Ortega ferry" in control.text
    assert set(proper_names(control.text)) == set(proper_names(SCRIPT))
    # the lines are the same lines, in another order
    assert control.text.splitlines() != SCRIPT.splitlines()
    assert len(control.text.splitlines()) == 4
    assert [c.split(" ")[0] for c in control.changes] == ["11", "2", "order"]
    assert "2,300" not in control.description and "7 → 3" in control.description


def test_corruption_is_deterministic():
    assert corrupt(SCRIPT, ARTICLE) == corrupt(SCRIPT, ARTICLE)


def test_one_name_is_replaced_by_another_name_from_the_article():
    control = corrupt("We spoke to Derek Oyelaran today. He was clear.", ARTICLE)
    assert "Derek Oyelaran" not in control.text
    assert "Mayor Lucinda Ortega" in control.text


def test_an_answer_without_numbers_or_names_gets_an_unsupported_claim():
    control = corrupt("It was a fine day. Everyone was happy.", ARTICLE)
    assert FABRICATED_CLAIM in control.text
    assert control.text != "It was a fine day. Everyone was happy."
    assert "unsupported claim" in control.description


def test_best_answer_is_the_highest_weighted_score_first_in_order_on_a_tie():
    order = ["a", "b", "c"]
    assert best_answer({"a": 6.0, "b": 8.5, "c": 8.5}, order) == "b"
    assert best_answer({"c": 9.0}, order) == "c"
    assert best_answer({}, order) is None


def _verdict(judge: str, score: float | None) -> Verdict:
    if score is None:
        return Verdict(model_id="m", judge_model_id=judge, status="unscored", reason="no JSON")
    return Verdict(model_id="m", judge_model_id=judge, status="scored", weighted_score=score)


def test_control_passes_only_when_scored_strictly_below_the_original():
    corruption = corrupt(SCRIPT, ARTICLE)
    passed = control_result("m", corruption, {"j": _verdict("j", 8.0)}, {"j": _verdict("j", 4.5)})
    assert passed["passed"] is True
    assert (passed["originalScore"], passed["controlScore"]) == (8.0, 4.5)
    assert passed["corruption"] == corruption.description

    same = control_result("m", corruption, {"j": _verdict("j", 10.0)}, {"j": _verdict("j", 10.0)})
    assert same["passed"] is False


def test_a_panel_passes_only_if_every_judge_does():
    originals = {"j1": _verdict("j1", 8.0), "j2": _verdict("j2", 7.0)}
    result = control_result(
        "m", corrupt(SCRIPT, ARTICLE), originals, {"j1": _verdict("j1", 3.0), "j2": _verdict("j2", 7.5)}
    )
    assert result["passed"] is False
    assert result["perJudge"]["j1"]["passed"] is True and result["perJudge"]["j2"]["passed"] is False
    assert (result["originalScore"], result["controlScore"]) == (7.5, 5.25)


def test_an_unscored_control_is_unknown_not_a_pass_or_a_fail():
    result = control_result("m", corrupt(SCRIPT, ARTICLE), {"j": _verdict("j", 8.0)}, {"j": _verdict("j", None)})
    assert result["passed"] is None
    assert "no JSON" in result["reason"]


def test_a_control_under_an_answer_scored_at_the_floor_is_inconclusive_not_failed():
    # Nothing scores below 1: the check cannot tell a blind judge from one that noticed
    result = control_result("m", corrupt(SCRIPT, ARTICLE), {"j": _verdict("j", 1.0)}, {"j": _verdict("j", 1.0)})
    assert result["passed"] is None
    assert "already scored 1, the lowest score" in result["reason"]
    just_above = control_result("m", corrupt(SCRIPT, ARTICLE), {"j": _verdict("j", 1.5)}, {"j": _verdict("j", 1.5)})
    assert just_above["passed"] is False
