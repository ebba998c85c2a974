"""Moved to ``tests/support/converse_fakes.py``, the one scripted Converse fake. Only these names are
left here, so that test files written on other branches against this module still import after the
merge; import them from ``converse_fakes`` and delete this module once none does."""

from tests.support.converse_fakes import (  # noqa: F401
    Responder,
    answer_text,
    good_responder,
    is_judge_call,
    rubric,
    verdict,
)
