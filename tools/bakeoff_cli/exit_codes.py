"""The exit codes of ``bakeoff local run``, ``bakeoff submit`` and ``bakeoff compare``: a promise to the CI
jobs and scripts that branch on them, so each number keeps its meaning once published (README: "Exit codes").

0 means a ranking exists: at least one model was scored. Every other outcome is non-zero, and the two in
which a report is still written (6, 7) say so, so a job can publish the report and still fail.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class Exit(IntEnum):
    OK = 0  # the evaluation ran and at least one model was scored (and, for submit, every gate held)
    GATE_FAILED = 1  # submit: a --min-score/--max-regression gate failed (or could not hold: not sent)
    REFUSED_LOCAL = 1  # local run: the request was refused before any model was called (kept since 0.1)
    REFUSED = 2  # submit: the API refused the request; either command: the command line is wrong
    CRASHED = 3  # the run broke: the state machine failed, the model server died, or Bakeoff crashed
    MODEL_ERRORS = 4  # submit --fail-on-error: at least one model failed
    TIMED_OUT = 5  # --timeout passed before the evaluation ended
    NO_ANSWERS = 6  # every candidate failed: nothing to rank (a report is written)
    NOT_JUDGED = 7  # candidates answered but the judge scored none of them (a report is written)
    REGRESSED = 8  # compare: a model got significantly worse · local run: a score gate failed
    UNHEALTHY_JUDGE = 9  # gates were given but the judge health check failed (no --allow-unhealthy-judge)


HELP = """exit codes:
  0  a ranking: at least one model was scored (submit: and every --min-score gate held)
  1  local run: the request was refused, no model was called · submit: a --min-score/--max-regression gate failed
  2  submit: the API refused the request · either: the command line is wrong
  3  the run broke: the state machine failed, the local model server died, or bakeoff crashed
  4  submit --fail-on-error: at least one model failed
  5  --timeout passed before the evaluation ended
  6  no candidate answered (every model failed); the report is still written
  7  the candidates answered but the judge scored none of them; the report is still written
  8  compare: a model got significantly worse · local run: a --min-score/--max-regression gate failed
  9  gates were given but the judge health check failed (override: --allow-unhealthy-judge)"""


def outcome(totals: dict[str, Any]) -> Exit:
    """What a finished evaluation's ``report.json`` totals (or an API summary's counts) say:
    OK when anything was scored, else whether the candidates or the judge produced nothing."""
    if totals.get("scored", 0) > 0:
        return Exit.OK
    if totals.get("ok", 0) == 0:
        return Exit.NO_ANSWERS
    return Exit.NOT_JUDGED
