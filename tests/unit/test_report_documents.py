"""The typed S3 documents (``scores.json``, ``report.json``), the judge-health grades stored in the
report, the generated schema doc, and the report step's module graph."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bakeoff.judge_health import JudgeHealth, LengthBias, PairwiseSummary, PanelAgreement, grade, worst
from bakeoff.models import Answer, Evaluation, Verdict
from bakeoff.report import IndexRow, ModelEntry, Report, ReportHeadline
from bakeoff.scores import ScoresDocument
from tests.conftest import EVENTS, ROOT

FIXTURES = sorted((ROOT / "tests" / "fixtures" / "reports").glob("*.json"))
BUCKET = EVENTS / "bucket"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# --- fixtures and sample objects fit their models --------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_every_report_fixture_is_a_report_with_the_grades_the_rules_give(path: Path) -> None:
    # Given a hand-made report.json / When it is read through the model
    report = Report.model_validate(_json(path))
    # Then its stored grades are the ones the rules give for its measures
    health = report.judge_health
    measures = {name: getattr(health, name) for name in health.model_fields_set - {"checks", "verdict"}}
    assert health.checks == grade(**measures)
    assert health.verdict == worst(health.checks)


@pytest.mark.parametrize("path", sorted(BUCKET.glob("evaluations/*/scores.json")), ids=lambda p: p.parent.name)
def test_every_sample_scores_json_is_a_scores_document_and_dumps_back_unchanged(path: Path) -> None:
    raw = _json(path)
    assert ScoresDocument.model_validate(raw).dump() == raw


@pytest.mark.parametrize("path", sorted(BUCKET.glob("evaluations/*/request.json")), ids=lambda p: p.parent.name)
def test_every_sample_request_json_is_an_evaluation(path: Path) -> None:
    Evaluation.model_validate(_json(path))


@pytest.mark.parametrize(("kind", "model"), [("answers", Answer), ("verdicts", Verdict)])
def test_every_sample_checkpoint_body_fits_its_model(kind: str, model: type) -> None:
    paths = sorted(BUCKET.glob(f"checkpoints/{kind}/*.json"))
    assert paths
    for path in paths:
        model.model_validate(_json(path)["body"])


# --- the document rules ----------------------------------------------------------------------------


def test_a_bare_report_is_refused_naming_what_is_missing() -> None:
    with pytest.raises(ValidationError) as caught:
        Report.model_validate({"evaluationId": "e-1", "models": []})
    missing = {error["loc"][0] for error in caught.value.errors() if error["type"] == "missing"}
    assert {"createdAt", "totals", "judgeHealth", "request", "winner", "totalCostUsd"} <= missing


def test_an_unknown_report_field_is_an_error_not_silently_dropped() -> None:
    report = _json(FIXTURES[0]) | {"judgeProbes": {}}
    with pytest.raises(ValidationError, match="judgeProbes"):
        Report.model_validate(report)


def test_the_compatibility_copies_of_the_cost_totals_must_agree() -> None:
    report = _json(ROOT / "tests" / "fixtures" / "reports" / "three_models.json")
    report["totalCostUsd"] += 0.01
    with pytest.raises(ValidationError, match="totals.totalCostUsd"):
        Report.model_validate(report)


def test_a_dump_keeps_required_nulls_and_given_nulls_and_leaves_out_what_was_never_given() -> None:
    # Given an entry with a required null (weightedScore), a given null (rawJudgeReply) and no rank
    entry = ModelEntry(
        model_id="m",
        name="M",
        status="ok",
        output="text",
        usage={"inputTokens": 1},
        latency_ms=None,
        cost_usd=None,
        score_status="unscored",
        scores={},
        weighted_score=None,
        raw_judge_reply=None,
    )
    dumped = entry.dump()
    # Then the keys readers rely on are there as null, and the optional ones never given are absent
    assert dumped["weightedScore"] is None and dumped["latencyMs"] is None and dumped["costUsd"] is None
    assert "rawJudgeReply" in dumped and dumped["rawJudgeReply"] is None
    assert "rank" not in dumped and "evidence" not in dumped and "unpriced" not in dumped
    assert dumped["usage"] == {"inputTokens": 1, "outputTokens": 0}


def test_the_index_row_of_a_report_and_of_its_lenient_headline_agree() -> None:
    raw = _json(ROOT / "tests" / "fixtures" / "reports" / "failed_model.json")
    row = IndexRow.of(Report.model_validate(raw))
    assert row == IndexRow.of(ReportHeadline.model_validate(raw))
    assert (row.winner, row.models, row.failed, row.status) == (raw["winner"], 3, 1, "partial")


# --- the grades ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "expected"), [(0.0, "pass"), (0.01, "warn"), (0.4999, "warn"), (0.5, "fail")])
def test_unscored_rate_grades(rate: float, expected: str) -> None:
    assert grade(unscored_rate=rate) == {"unscoredRate": expected}


@pytest.mark.parametrize(
    ("mad", "expected"), [(None, "info"), (1.0, "pass"), (1.01, "warn"), (2.0, "warn"), (2.01, "fail")]
)
def test_panel_agreement_grades(mad: float | None, expected: str) -> None:
    panel = PanelAgreement(judges=["a", "b"], mean_abs_diff=mad, spearman=None, kendall=None, compared_models=2)
    assert grade(panel=panel) == {"panel": expected}


@pytest.mark.parametrize(
    ("flips", "expected"), [(None, "warn"), (0.2499, "pass"), (0.25, "warn"), (0.4999, "warn"), (0.5, "fail")]
)
def test_position_flip_grades(flips: float | None, expected: str) -> None:
    pairwise = PairwiseSummary(position_flip_rate=flips, pairs=6, wins={}, ties=0, unscored=0)
    assert grade(pairwise=pairwise) == {"pairwise": expected}


@pytest.mark.parametrize(
    ("r", "n", "expected"), [(0.9, 2, "info"), (None, 3, "info"), (0.69, 3, "pass"), (-0.7, 3, "warn")]
)
def test_length_bias_grades(r: float | None, n: int, expected: str) -> None:
    assert grade(length_bias=LengthBias(pearson=r, n=n)) == {"lengthBias": expected}


def test_a_dataset_control_is_graded_from_control_passed_and_info_never_decides_the_verdict() -> None:
    health = JudgeHealth.graded(unscored_rate=0.0, judged=3, unscored=0, control_passed=False, noise=0.5)
    assert health.checks == {"unscoredRate": "pass", "control": "fail", "noise": "info"}
    assert health.verdict == "fail"
    assert JudgeHealth.graded(unscored_rate=None, judged=0, unscored=0, noise=0.5).verdict is None


# --- the generated doc and the module graph ----------------------------------------------------------


def test_the_report_schema_doc_is_generated_from_the_current_model() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "dev" / "report_schema.py"), "--check"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "layers" / "shared")},
    )
    assert result.returncode == 0, result.stderr


def _report_imports() -> dict[str, set[str]]:
    package = ROOT / "functions" / "report"
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[path.stem] = {
            node.module.rsplit(".", 1)[-1]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("functions.report.")
        }
    return graph


def test_the_report_step_modules_import_each_other_without_a_cycle() -> None:
    graph = _report_imports()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module in done:
            return
        for imported in graph.get(module, ()):
            visit(imported, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
    # and the handler reaches the renderer only through the orchestration
    assert graph["app"] == {"build"}


def test_the_documented_evidence_limits_are_the_judges() -> None:
    from functions.score.judge import EVIDENCE_MAX_CHARS, EVIDENCE_MAX_ITEMS

    described = ModelEntry.model_fields["evidence"].description or ""
    assert f"at most {EVIDENCE_MAX_ITEMS} of at most {EVIDENCE_MAX_CHARS} characters each" in described
