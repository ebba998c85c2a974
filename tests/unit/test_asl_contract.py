"""The ASL and the Python code agree: error names, the fields states pass, and the timeouts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bakeoff.errors import all_error_names
from bakeoff.models import ModelTask, ReportInput, ScoreInput, ValidateInput
from bakeoff_offline.template import load_template
from tests.conftest import ROOT

ASL_PATH = ROOT / "statemachine" / "evaluation.asl.json"


def asl() -> dict[str, Any]:
    return json.loads(ASL_PATH.read_text())


def states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition["States"].items():
        yield name, state
        if "ItemProcessor" in state:
            yield from states(state["ItemProcessor"])
        for branch in state.get("Branches", []):
            yield from states(branch)


def test_every_error_equals_is_states_lambda_or_one_of_ours():
    ours = all_error_names()
    for name, state in states(asl()):
        for rule in state.get("Retry", []) + state.get("Catch", []):
            for error in rule["ErrorEquals"]:
                assert error.startswith(("States.", "Lambda.")) or error in ours, f"{name}: unknown error {error}"


def test_retries_are_deliberate():
    for name, state in states(asl()):
        for rule in state.get("Retry", []):
            assert "States.ALL" not in rule["ErrorEquals"], f"{name} blanket-retries States.ALL"
            assert "States.TaskFailed" not in rule["ErrorEquals"], f"{name} blanket-retries TaskFailed"
            assert rule.get("JitterStrategy") == "FULL", f"{name}: retry without jitter"


@pytest.mark.parametrize("path", [("InvokeModels",), ("EvaluateItems", "InvokeItemModels")])
def test_each_model_branch_catches_into_a_recorded_failure(path):
    state = asl()["States"][path[0]]
    if len(path) > 1:
        state = state["ItemProcessor"]["States"][path[1]]
    branch = state["ItemProcessor"]["States"]
    catch = branch["InvokeModel"]["Catch"]
    assert catch[0]["ErrorEquals"] == ["States.ALL"] and catch[0]["Next"] == "RecordFailure"
    record = branch["RecordFailure"]["Parameters"]
    assert record["status"] == "failed" and "modelId.$" in record


def payload_keys(state: dict[str, Any]) -> set[str]:
    return {k.removesuffix(".$") for k in state["Parameters"]["Payload"]}


def camel_fields(model) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()} | {
        model.model_config["alias_generator"](n) for n in model.model_fields
    }


@pytest.mark.parametrize(
    ("state", "model"),
    [("Validate", ValidateInput), ("Score", ScoreInput), ("Report", ReportInput), ("ReportDataset", ReportInput)],
)
def test_task_payloads_match_the_models_they_feed(state, model):
    keys = payload_keys(asl()["States"][state])
    required = {model.model_config["alias_generator"](n) for n, f in model.model_fields.items() if f.is_required()}
    assert keys <= camel_fields(model), keys - camel_fields(model)
    assert required <= keys, required - keys


def test_the_dataset_branch_repeats_the_single_article_branch_exactly():
    # The per-item Map and Score are copies of the single-article ones (ASL has no shared fragments);
    # this keeps them from drifting apart.
    single = asl()["States"]
    item = single["EvaluateItems"]["ItemProcessor"]["States"]
    assert {k: v for k, v in item["InvokeItemModels"].items() if k != "Next"} == {
        k: v for k, v in single["InvokeModels"].items() if k != "Next"
    }

    def score(state: dict[str, Any]) -> dict[str, Any]:  # where its Catch leads differs (state names are global)
        catches = [{k: v for k, v in c.items() if k != "Next"} for c in state["Catch"]]
        return {k: v for k, v in state.items() if k not in ("Next", "Comment", "Catch")} | {"Catch": catches}

    assert score(item["ScoreItem"]) == score(single["Score"])


def test_map_item_selector_matches_the_model_task():
    selector = asl()["States"]["InvokeModels"]["ItemSelector"]
    keys = {k.removesuffix(".$") for k in selector}
    assert keys == {ModelTask.model_config["alias_generator"](n) for n in ModelTask.model_fields}


def test_timeouts_nest_converse_below_lambda_below_the_state():
    template = load_template(ROOT / "template.yaml")
    resources = template["Resources"]
    for state_name, function in (("InvokeModel", "InvokeModelFunction"), ("Score", "ScoreFunction")):
        props = resources[function]["Properties"]
        lambda_timeout = int(props["Timeout"])
        read_timeout = float(props["Environment"]["Variables"]["MODEL_READ_TIMEOUT_SECONDS"])
        state = dict(states(asl()))[state_name]
        assert read_timeout < lambda_timeout < state["TimeoutSeconds"], state_name


def _lint_asl(path: Path) -> subprocess.CompletedProcess[str]:
    python = ROOT / ".venv" / "bin" / "python"
    exe = str(python) if python.exists() else sys.executable
    return subprocess.run([exe, str(ROOT / "tools" / "dev" / "lint_asl.py"), str(path)], capture_output=True, text=True)


def test_statelint_accepts_the_definition():
    # tools/dev/lint_asl.py (also `make lint`) accepts statelint 3.1's complaint about
    # ItemReader.ReaderConfig.InputType alone, a field AWS accepts; anything else fails.
    result = _lint_asl(ASL_PATH)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_asl_lint_still_catches_a_dangling_next(tmp_path):
    definition = json.loads(ASL_PATH.read_text())
    definition["States"]["Score"]["Next"] = "NoSuchState"
    broken = tmp_path / "broken.asl.json"
    broken.write_text(json.dumps(definition))
    result = _lint_asl(broken)
    assert result.returncode == 1 and "NoSuchState" in result.stdout, result.stdout + result.stderr


def test_cfn_lint_accepts_the_template():
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), str(ROOT / "template.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_accepts_the_template():
    sam = ROOT / ".venv-tools" / "bin" / "sam"
    if not sam.exists():
        pytest.skip("SAM CLI is installed by `make test` into .venv-tools/")
    result = subprocess.run(
        [str(sam), "validate", "--lint", "--region", "us-east-1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "SAM_CLI_TELEMETRY": "0"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_batch_loop_feeds_the_batch_task_and_waits_on_what_the_step_returns():
    from functions.batch_job.jobs import BatchProgress, BatchTask

    machine = asl()["States"]
    batch = machine["BatchAnswers"]
    assert payload_keys(batch) == camel_fields(BatchTask) - {"evaluation_id"}
    selected = {v.removeprefix("$.Payload.") for v in batch["ResultSelector"].values()}
    assert selected <= camel_fields(BatchProgress) and {"done", "pollSeconds"} == selected
    assert machine["BatchAnswered"]["Choices"][0]["Variable"] == "$.batch.done"
    assert machine["BatchAnswered"]["Choices"][0]["Next"] == "EvaluateItems"
    assert machine["WaitForBatchJobs"]["SecondsPath"] == "$.batch.pollSeconds"
    assert machine["WaitForBatchJobs"]["Next"] == "BatchAnswers"
    # Only a dataset in batch mode goes there
    (rule,) = [c for c in machine["SingleOrDataset"]["Choices"] if c["Next"] == "BatchAnswers"]
    assert {(c["Variable"], c["StringEquals"]) for c in rule["And"]} == {
        ("$.mode", "dataset"),
        ("$.inference", "batch"),
    }
    # The function's timeout sits below the state's
    function = load_template(ROOT / "template.yaml")["Resources"]["BatchJobFunction"]["Properties"]
    assert int(function["Timeout"]) < batch["TimeoutSeconds"]
