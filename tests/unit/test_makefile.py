"""The Makefile keeps its own promises: every phony target has a rule, every rule that makes no file is
phony, and ``make help`` lists them all."""

from __future__ import annotations

import re

from tests.conftest import ROOT

MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def phony() -> set[str]:
    declared = re.search(r"^\.PHONY:((?:.*\\\n)*.*)$", MAKEFILE, re.M)
    assert declared, "no .PHONY line"
    return set(declared.group(1).replace("\\\n", " ").split())


def rules() -> set[str]:
    """Targets named plainly (not a stamp file like ``$(VENV)/.dev``)."""
    return set(re.findall(r"^([a-z][a-z-]*):", MAKEFILE, re.M))


def test_every_phony_target_has_a_rule_and_every_plain_rule_is_phony():
    assert phony() == rules()


def test_help_lists_every_target_but_itself():
    listed = set(re.findall(r'^\t@echo "make ([a-z-]+) ', MAKEFILE, re.M))
    assert listed == rules() - {"help"}


def test_the_targets_a_sam_user_expects_exist():
    assert {"build", "deploy", "unit", "integration", "lint", "format", "validate"} <= rules()
    assert re.search(r"^\t\$\(BIN\)/ruff format --check \.$", MAKEFILE, re.M), "make lint checks the format"
