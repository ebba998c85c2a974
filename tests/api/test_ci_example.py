"""The CI path a user copies: examples/github-actions/bakeoff.yml's own `run:` steps (read from the YAML, not
copied), in a fresh virtualenv that installs a wheel of this repository the way the workflow installs the
CLI, against `bakeoff local serve`. The scripted Converse endpoint and a stand-in `gh` (it records the
comment instead of calling GitHub) are the only fakes: both sit at the network boundary.

Also what makes the CLI installable on its own: the wheel's top-level packages and its `[local]` extra."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from converse_local import wire
from tests.api.helpers import API_KEY, ROOT, base_request
from tests.api.test_submit_cli import serving
from tests.support.converse_fakes import converse_server, is_judge_call, rubric

WORKFLOW = ROOT / "examples" / "github-actions" / "bakeoff.yml"
FACT = "Sunday visits could reach 300 a week"
LLAMA = "meta.llama3-70b-instruct-v1:0"


# --- the wheel -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout, built as pip builds it (isolated; setuptools from the package index/cache)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("bakeoff-*.whl")
    return built


def test_the_wheel_holds_only_bakeoffs_own_top_level_packages(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"bakeoff", "bakeoff_cli", "bakeoff_offline", "converse_local"}
    assert "bakeoff/data/models.json" in names  # the pricing catalog submit's estimate and compare need
    # The base install has no dependencies (submit and compare are standard library only)
    requires = _wheel_requires(wheel)
    assert requires and all('extra == "local"' in line for line in requires)


def _third_party_imports(folders: list[Path]) -> set[str]:
    first_party = {"bakeoff", "bakeoff_cli", "bakeoff_offline", "converse_local", "functions", "tests"}
    found = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else ([node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
                )
                found |= {n.split(".")[0] for n in names}
    return {n for n in found if n not in first_party and n not in sys.stdlib_module_names}


def _closure(requirements: list[str]) -> set[str]:
    """The distributions these requirements install, transitively (as installed in this virtualenv)."""
    seen: set[str] = set()
    todo = [re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0] for r in requirements]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for req in importlib.metadata.requires(name) or []:
            if "extra ==" not in req:
                todo.append(re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0])
    return seen


def _wheel_requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    return [
        line.removeprefix("Requires-Dist:").strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]


def test_the_local_extra_covers_every_package_the_offline_stack_imports(wheel):
    # Given every third-party module the CLI, the offline tools, the layer and the handlers import
    imported = _third_party_imports(
        [
            ROOT / "tools" / "bakeoff_cli",
            ROOT / "tools" / "bakeoff_offline",
            ROOT / "tools" / "converse_local",
            ROOT / "layers" / "shared" / "bakeoff",
            ROOT / "functions",
        ]
    )
    # llama.cpp is compiled for a portable CPU baseline by tools/dev/llama_wheel.sh, never from an extra
    imported -= {"llama_cpp"}
    owners = importlib.metadata.packages_distributions()
    local_extra = [r.split(";")[0] for r in _wheel_requires(wheel) if 'extra == "local"' in r]
    installed_by_extra = _closure(local_extra)
    # Then the [local] extra installs each of them
    missing = {
        m: owners.get(m)
        for m in imported
        if not {d.lower().replace("_", "-") for d in owners.get(m, [m])} & installed_by_extra
    }
    assert not missing, f"add to [project.optional-dependencies] local: {missing}"
    assert {"rich", "moto", "pyyaml", "pydantic"} <= installed_by_extra


# --- the example workflow ------------------------------------------------------------------------


def responder(model_id: str, request: dict[str, Any]) -> dict[str, Any]:
    """Candidates keep the article's key fact, except llama when asked for one short sentence (the
    pull request's prompt change); the judge scores an answer with the fact 8, one without it 4, so
    the corrupted control answer (its numbers changed) scores below the original: a healthy judge."""
    if is_judge_call(request):
        text = request["messages"][0]["content"][0]["text"]
        answer = text.split("<candidate_answer", 1)[1].split("</candidate_answer>", 1)[0]
        score = 8 if FACT in answer else 4
        return wire.tool_response(
            "record_verdict",
            {"scores": {name: {"reason": "scripted", "score": score} for name in rubric(request)}, "evidence": [FACT]},
            input_tokens=400,
            output_tokens=60,
        )
    system = " ".join(block.get("text", "") for block in request.get("system", []))
    if model_id == LLAMA and "one short sentence" in system:
        return wire.text_response("The library will open on Sundays.", input_tokens=200, output_tokens=10)
    return wire.text_response(f"Lowmere keeps its library open on Sundays. {FACT}.", input_tokens=200, output_tokens=20)


def workflow_steps() -> tuple[dict[str, str], list[dict[str, Any]]]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    return workflow.get("env", {}), job["steps"]


EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


class Workflow:
    """Runs the workflow's `run:` steps as GitHub Actions would on ubuntu-latest (bash -eo pipefail, each
    step after a failure skipped unless its `if:` says always()), with the given expression values."""

    def __init__(self, repo: Path, path_dirs: list[Path], expressions: dict[str, str]) -> None:
        self.repo, self.path_dirs, self.expressions = repo, path_dirs, expressions

    def value(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.expressions[m.group(1)], str(text))

    def condition(self, expression: str | None, failed: bool) -> bool:
        if expression is None:
            return not failed
        # The only conditions the example uses; anything else must be taught here, not guessed.
        known = {
            "always()": True,
            "github.event_name == 'pull_request'": self.expressions["github.event_name"] == "pull_request",
        }
        parts = [p.strip() for p in expression.split("&&")]
        assert all(p in known for p in parts), f"unknown condition {expression!r}"
        return all(known[p] for p in parts) and ("always()" in parts or not failed)

    def run(self) -> tuple[bool, list[tuple[str, int | None, str]]]:
        workflow_env, steps = workflow_steps()
        failed, log = False, []
        base_env = {
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "CI": "true",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PATH": os.pathsep.join([*map(str, self.path_dirs), "/usr/bin", "/bin"]),
        }
        for name in ("PIP_CONFIG_FILE", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
            if name in os.environ:  # the machine's package index configuration, as a runner's would be
                base_env[name] = os.environ[name]
        for step in steps:
            label = step.get("name") or step.get("uses")
            if "run" not in step:
                log.append((label, None, "uses: skipped (an action, not a shell step)"))
                continue
            assert "${{" not in step["run"], f"{label}: expressions belong in env:, never in the script"
            if not self.condition(step.get("if"), failed):
                log.append((label, None, "skipped"))
                continue
            env = base_env | {k: self.value(v) for k, v in {**workflow_env, **step.get("env", {})}.items()}
            env |= self.expressions.get("overrides", {})  # type: ignore[operator]
            result = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=self.repo,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            log.append((label, result.returncode, result.stdout + result.stderr))
            failed = failed or result.returncode != 0
        return not failed, log


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with pip and nothing else: no Bakeoff, none of the dev venv's packages."""
    target = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    return target


@pytest.fixture
def gh(tmp_path: Path) -> Path:
    """A stand-in for the GitHub CLI: records its arguments and the comment body, calls nothing."""
    folder = tmp_path / "gh-bin"
    folder.mkdir()
    script = folder / "gh"
    script.write_text(
        '#!/bin/bash\nprintf "%s\\n" "$*" >> "$GH_LOG"\n'
        'while [ $# -gt 0 ]; do if [ "$1" = --body-file ]; then cat "$2" >> "$GH_LOG"; fi; shift; done\n'
    )
    script.chmod(0o755)
    return folder


def test_the_example_workflow_gates_a_pull_request_against_its_baseline(wheel, fresh_venv, gh, tmp_path):
    # The workflow installs a pinned release of Bakeoff from its git repository, never the user's project
    workflow_env, _ = workflow_steps()
    assert re.fullmatch(r"bakeoff @ git\+https://\S+@v\d+\.\d+\.\d+", workflow_env["BAKEOFF_PACKAGE"])

    repo = tmp_path / "user-repo"  # the user's repository: their request, no Bakeoff code
    (repo / "bakeoff").mkdir(parents=True)
    request = base_request() | {"title": "library summary"}
    (repo / "bakeoff" / "request.json").write_text(json.dumps(request))
    gh_log = tmp_path / "gh.log"

    def run_job(served: str, baseline: str, event: str = "pull_request") -> tuple[bool, list, str]:
        shutil.rmtree(repo / "bakeoff-report", ignore_errors=True)
        gh_log.write_text("")
        expressions = {
            "secrets.BAKEOFF_API_URL": served,
            "secrets.BAKEOFF_API_KEY": API_KEY,
            "vars.BAKEOFF_BASELINE": baseline,
            "github.token": "token-not-used",
            "github.repository": "your-org/your-repo",
            "github.event.pull_request.number": "42",
            "github.event_name": event,
            # The one value replaced: the package pip installs is this checkout's wheel.
            "overrides": {"BAKEOFF_PACKAGE": str(wheel), "GH_LOG": str(gh_log)},
        }
        ok, log = Workflow(repo, [fresh_venv / "bin", gh], expressions).run()  # type: ignore[arg-type]
        return ok, log, gh_log.read_text()

    with converse_server(responder) as converse, serving(converse.url, tmp_path / "serve-state") as served:
        # Given the run on main that the repository accepted as its baseline (no baseline of its own yet)
        ok, log, comment = run_job(served, baseline="", event="workflow_dispatch")
        assert ok, log
        (baseline_dir,) = (repo / "bakeoff-report").iterdir()
        baseline_id = baseline_dir.name
        # the wheel, and nothing else: submit and compare need no other package
        assert re.search(r"^Successfully installed bakeoff-0\.1\.0$", log[2][2], re.M), log[2][2]
        assert "gate PASS weighted >= 7" in log[3][2] and comment == ""

        # When a pull request leaves the models' output unchanged
        ok, log, comment = run_job(served, baseline=baseline_id)
        # Then the job passes and the pull request gets the before/after table
        assert ok, log
        assert f"gate PASS weighted drop <= 0.5 for {LLAMA}: 8 -> 8" in log[3][2]
        assert comment.startswith("pr comment 42 --body-file bakeoff-report/compare.md\n### Bakeoff: ")
        assert f"against the baseline `{baseline_id}`" in comment
        assert "| Llama 3 70B Instruct | weighted | 8.00 | 8.00 | +0.00 | n=1, no test | no change |" in comment

        # When a pull request's prompt change makes llama drop the key fact
        request["prompt"] = "Summarise the article in one short sentence for a general audience."
        (repo / "bakeoff" / "request.json").write_text(json.dumps(request))
        ok, log, comment = run_job(served, baseline=baseline_id)
        # Then the gate fails the job, and the comment (posted although the job failed) says why
        assert not ok
        gate_step = log[3]
        assert gate_step[1] == 1, gate_step  # `bakeoff submit`: a gate failed
        assert f"gate FAIL weighted drop <= 0.5 for {LLAMA}: 8 -> 4" in gate_step[2]
        assert "| Llama 3 70B Instruct | weighted | 8.00 | 4.00 | -4.00 |" in comment
        assert f"- FAIL weighted drop <= 0.5 for {LLAMA}: 8 -> 4" in comment
        assert log[4][1] == 0  # the comment step ran after the failure (if: always())
