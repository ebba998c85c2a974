"""bakeoff.compare (two runs side by side) and bakeoff_cli.gates, on report.json documents as the
report step writes them; the paired tests' figures are checked against scipy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bakeoff.compare import compare_reports
from bakeoff_cli.compare import GateCannotHold, RunNotFound, prepare_gates, resolve_run
from bakeoff_cli.exit_codes import Exit
from bakeoff_cli.gates import Gates, MaxRegression, MinScore
from bakeoff_cli.main import _parser, main

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-lite-v1:0"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"


def dataset_report(
    evaluation_id: str,
    scores: dict[str, list[float]],
    *,
    control_passed: bool | None = True,
    cost: dict[str, float] | None = None,
) -> dict:
    """A dataset report.json: ``scores`` holds each model's weighted score per item (accuracy the same,
    engagement one lower), in the shape functions/report/dataset.py writes."""
    rows = [
        {
            "itemId": f"item-{i:02d}",
            "modelId": model,
            "status": "ok",
            "scoreStatus": "scored",
            "weightedScore": value,
            "scores": {"accuracy": value, "engagement": value - 1},
            "usage": {},
            "latencyMs": 1000,
        }
        for model, values in scores.items()
        for i, value in enumerate(values)
    ]
    models = [
        {
            "modelId": m,
            "name": m.split(".")[1],
            "status": "ok",
            "weightedScore": float(np.mean(v)),
            "costUsd": (cost or {}).get(m, 0.01),
            "latencyMs": 1000,
        }
        for m, v in scores.items()
    ]
    for rank, model in enumerate(sorted(models, key=lambda m: -m["weightedScore"]), start=1):
        model["rank"] = rank
    return {
        "evaluationId": evaluation_id,
        "title": "t",
        "createdAt": "2026-12-01T00:00:00+00:00",
        "criteria": [{"name": "accuracy", "weight": 5}, {"name": "engagement", "weight": 3}],
        "models": models,
        "judgeHealth": {"controlPassed": control_passed},
        "dataset": {"rows": rows},
    }


BASE = {CLAUDE: [8, 7, 9, 8, 6, 7, 8, 9, 7, 8, 6, 9], NOVA: [6, 7, 5, 6, 8, 6, 7, 5, 6, 7, 6, 5]}
# nova lost on every item but one, by varied amounts (no ties in |diff|, so scipy's exact test applies)
NOVA_WORSE = [
    6 - 1.1,
    7 - 2.3,
    5 - 0.4,
    6 - 3.1,
    8 - 1.7,
    6 - 0.9,
    7 + 0.2,
    5 - 2.6,
    6 - 1.3,
    7 - 2.0,
    6 - 0.6,
    5 - 1.5,
]


def test_identical_runs_show_no_significant_change():
    comparison = compare_reports(dataset_report("a", BASE), dataset_report("b", BASE))
    assert comparison.worse == [] and not any(c.significant for c in comparison.changes)
    assert {(c.model_id, c.criterion) for c in comparison.changes} == {
        (m, k) for m in BASE for k in ("weighted", "accuracy", "engagement")
    }
    assert all(c.delta == 0 and c.items == 12 and c.verdict() == "no change" for c in comparison.changes)
    assert comparison.flips == [] and comparison.cost_delta_usd == {CLAUDE: 0.0, NOVA: 0.0}


def test_a_model_made_worse_is_significantly_worse_with_scipys_figures():
    after = dataset_report("b", {CLAUDE: BASE[CLAUDE], NOVA: NOVA_WORSE}, cost={NOVA: 0.015})
    comparison = compare_reports(dataset_report("a", BASE), after)
    nova = comparison.find(NOVA, "weighted")
    diffs = np.array(NOVA_WORSE) - np.array(BASE[NOVA])
    expected = stats.wilcoxon(diffs, method="exact")
    assert nova.wilcoxon_p == pytest.approx(expected.pvalue, rel=1e-9)
    assert nova.delta == pytest.approx(diffs.mean(), abs=1e-4)
    low, high = stats.bootstrap(
        (diffs,), np.mean, method="percentile", n_resamples=20000, rng=np.random.default_rng(0)
    ).confidence_interval
    assert nova.bootstrap_ci[0] == pytest.approx(low, abs=0.1) and nova.bootstrap_ci[1] == pytest.approx(high, abs=0.1)
    assert nova.significant and nova.worse and nova.verdict() == "significantly worse"
    assert (nova.worsened, nova.improved) == (11, 1)
    assert [(c.model_id, c.criterion) for c in comparison.worse] == [
        (NOVA, "weighted"),
        (NOVA, "accuracy"),
        (NOVA, "engagement"),
    ]
    assert not comparison.find(CLAUDE, "weighted").significant
    assert comparison.cost_delta_usd[NOVA] == pytest.approx(0.005)


def test_a_small_drop_on_few_items_is_not_significant():
    # Three items, all a little worse: the exact Wilcoxon p is 0.25, nothing to fail a build on
    before = dataset_report("a", {NOVA: [6, 7, 5]})
    after = dataset_report("b", {NOVA: [5.5, 6.4, 4.3]})
    nova = compare_reports(before, after).find(NOVA, "weighted")
    assert nova.wilcoxon_p == pytest.approx(stats.wilcoxon([-0.5, -0.6, -0.7], method="exact").pvalue)
    assert not nova.significant and nova.verdict() == "no significant change"


def test_the_same_drop_on_every_item_is_significant_without_a_bootstrap_interval():
    after = dataset_report("b", {NOVA: [v - 2 for v in BASE[NOVA]]})
    nova = compare_reports(dataset_report("a", {NOVA: BASE[NOVA]}), after).find(NOVA, "weighted")
    assert nova.bootstrap_ci is None  # no spread to resample
    assert (
        nova.wilcoxon_p
        == pytest.approx(stats.wilcoxon([-2] * 12, method=stats.PermutationMethod(n_resamples=np.inf)).pvalue)
        == pytest.approx(2 / 4096)
    )
    assert nova.worse and nova.delta == -2


def test_items_whose_best_model_changed_are_flips():
    # item-00: claude led 8 to 6, now nova leads 9 to 8; item-01 was a 7-7 tie, now claude leads
    after = dataset_report("b", {CLAUDE: BASE[CLAUDE], NOVA: [9, 6, 5, 6, 8, 6, 7, 5, 6, 7, 6, 5]})
    flips = compare_reports(dataset_report("a", BASE), after).flips
    assert [(f.item_id, f.before, f.after) for f in flips] == [
        ("item-00", [CLAUDE], [NOVA]),
        ("item-01", sorted([CLAUDE, NOVA]), [CLAUDE]),
    ]


def test_single_article_runs_share_one_item_and_allow_no_test():
    report = json.loads((FIXTURES / "three_models.json").read_text())
    worse = json.loads(json.dumps(report))
    worse["models"][1]["weightedScore"] -= 2
    comparison = compare_reports(report, worse)
    changed = comparison.find(worse["models"][1]["modelId"], "weighted")
    assert changed.items == 1 and not changed.tested and changed.delta == pytest.approx(-2)
    assert changed.verdict() == "not testable (1 shared item)" and comparison.worse == []


# --- gates ---------------------------------------------------------------------------------------


def test_a_gate_names_a_model_by_its_id_colons_and_all():
    gate = MinScore.parse(f"{CLAUDE}:weighted=7")
    assert (gate.model, gate.criterion, gate.minimum) == (CLAUDE, "weighted", 7.0)
    assert MinScore.parse("accuracy=8") == MinScore("accuracy", 8.0, None)
    assert MaxRegression.parse("weighted=0.5") == MaxRegression("weighted", 0.5, None)
    for bad in ("weighted", "=7", "weighted=x", ":weighted=7", "weighted=nan"):
        with pytest.raises(ValueError, match="expected \\[MODEL:\\]CRITERION=NUMBER"):
            MinScore.parse(bad)


def test_gates_naming_what_the_request_lacks_are_refused_before_the_run():
    request = {"models": [CLAUDE, NOVA], "scoringCriteria": {"accuracy": 5}}
    gates = Gates.parse(["humour=7", "meta.llama3-70b-instruct-v1:0:weighted=7", f"{NOVA}:accuracy=6"])
    problems = gates.check_against_request(request)
    assert len(problems) == 2
    assert "criterion 'humour'" in problems[0] and "meta.llama3-70b-instruct-v1:0" in problems[1]


def test_a_named_model_is_gated_not_just_the_winner():
    report = dataset_report("b", BASE)
    ranking = sorted(report["models"], key=lambda m: m["rank"])
    held, blocked, lines = Gates.parse(["weighted=7", f"{NOVA}:weighted=7"]).evaluate(report, ranking, None)
    assert not held and not blocked
    assert [ok for ok, _ in lines] == [True, False]
    assert lines[1][1].startswith(f"weighted >= 7 for {NOVA}: {NOVA} scored 6.1")


def test_no_gate_passes_when_the_judge_health_check_failed_unless_allowed():
    report = dataset_report("b", BASE, control_passed=False)
    ranking = sorted(report["models"], key=lambda m: m["rank"])
    held, blocked, lines = Gates.parse(["weighted=1"]).evaluate(report, ranking, None)
    assert (held, blocked) == (False, True) and "control check failed" in lines[-1][1]
    held, blocked, _ = Gates.parse(["weighted=1"], allow_unhealthy_judge=True).evaluate(report, ranking, None)
    assert (held, blocked) == (True, False)
    # An inconclusive check (None) is no failure
    inconclusive = dataset_report("b", BASE, control_passed=None)
    assert Gates.parse(["weighted=1"]).evaluate(inconclusive, ranking, None)[:2] == (True, False)


def test_max_regression_fails_only_on_a_significant_drop():
    base = dataset_report("a", BASE)
    gate = Gates.parse([], ["weighted=0.5"])
    worse = compare_reports(base, dataset_report("b", {CLAUDE: BASE[CLAUDE], NOVA: NOVA_WORSE}))
    held, _, lines = gate.evaluate(dataset_report("b", BASE), [], worse)
    assert not held and [ok for ok, _ in lines] == [False, True]  # nova, then claude (sorted IDs)
    assert lines[0][1].startswith(f"weighted drop <= 0.5 for {NOVA}: 6.1667 -> 4.725 (n=12, Wilcoxon p < 0.001")
    assert lines[0][1].endswith("; significant")
    # A drop above the threshold but on three items only: not significant, the gate holds
    few = compare_reports(dataset_report("a", {NOVA: [6, 7, 5]}), dataset_report("b", {NOVA: [5, 6, 4.2]}))
    held, _, lines = gate.evaluate(dataset_report("b", BASE), [], few)
    assert held and lines[0][1].endswith("; not significant")


def test_prepare_gates_reads_the_baseline_and_checks_it(tmp_path):
    path = tmp_path / "base" / "report.json"
    path.parent.mkdir()
    path.write_text(json.dumps(dataset_report("base-1", {NOVA: [6, 7]})))
    request = {"models": [CLAUDE, NOVA], "scoringCriteria": {"accuracy": 5, "engagement": 3}}
    args = _parser().parse_args(["compare", "a", "b"])  # a namespace; the gate options are set below
    args.min_score, args.max_regression, args.allow_unhealthy_judge = [], ["weighted=0.5"], False
    args.baseline, args.reports = str(path.parent), tmp_path
    gates, baseline = prepare_gates(args, request)
    assert baseline["evaluationId"] == "base-1" and gates.max_regressions
    args.baseline = "base"  # an evaluation ID: looked up as <reports>/<ID>/report.json
    assert prepare_gates(args, request)[1]["evaluationId"] == "base-1"
    args.max_regression = [f"{CLAUDE}:weighted=0.5"]
    with pytest.raises(GateCannotHold, match="did not run anthropic"):
        prepare_gates(args, request)
    args.baseline = "no-such-run"
    with pytest.raises(ValueError, match="--baseline no-such-run: no report under"):
        prepare_gates(args, request)
    args.baseline = None
    with pytest.raises(ValueError, match="needs --baseline"):
        prepare_gates(args, request)
    with pytest.raises(RunNotFound, match="not a Bakeoff report"):
        (tmp_path / "x.json").write_text("[]")
        resolve_run(str(tmp_path / "x.json"))


# --- the command ---------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, report: dict) -> str:
    path = tmp_path / name / "report.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(report))
    return str(path)


def test_compare_exits_0_on_identical_runs_and_8_when_a_model_got_worse(tmp_path, capsys):
    a = write(tmp_path, "a", dataset_report("a", BASE))
    same = write(tmp_path, "same", dataset_report("same", BASE))
    worse = write(tmp_path, "worse", dataset_report("worse", {CLAUDE: BASE[CLAUDE], NOVA: NOVA_WORSE}))

    assert main(["compare", a, same]) == Exit.OK
    assert capsys.readouterr().out.rstrip().endswith("no significant change")

    md = tmp_path / "compare.md"
    assert (
        main(["compare", str(Path(a).parent), worse, "--markdown", str(md), "--json", str(tmp_path / "c.json")])
        == Exit.REGRESSED
        == 8
    )
    printed = capsys.readouterr().out
    p = stats.wilcoxon(np.array(NOVA_WORSE) - np.array(BASE[NOVA]), method="exact").pvalue
    assert p < 0.001
    assert "significantly worse: nova-lite-v1:0 on weighted (-1.44, n=12, Wilcoxon p < 0.001" in printed
    assert "| nova-lite-v1:0 | weighted | 6.17 | 4.72 | -1.44 |" in md.read_text()
    assert json.loads((tmp_path / "c.json").read_text())["significantlyWorse"][0] == {
        "modelId": NOVA,
        "criterion": "weighted",
    }


def test_compare_refuses_a_run_it_cannot_find(tmp_path, capsys):
    a = write(tmp_path, "a", dataset_report("a", BASE))
    assert main(["compare", a, "20261202T000000Z-00000000", "--reports", str(tmp_path)]) == Exit.REFUSED
    assert "20261202T000000Z-00000000: no report under" in capsys.readouterr().out
