"""``all_error_names()`` is the layer's own error names, whatever the caller imported before asking."""

from __future__ import annotations

import json
import subprocess
import sys

from bakeoff import errors
from bakeoff.errors import BakeoffError, all_error_names

PROBE = (
    "import json, sys\n"
    "for name in sys.argv[1:]: __import__(name)\n"
    "from bakeoff.errors import all_error_names\n"
    "print(json.dumps(sorted(all_error_names())))\n"
)


def names_after_importing(*modules: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_the_names_do_not_depend_on_what_was_imported_first():
    # Given a fresh interpreter that imported only the errors module, and one that imported the API's
    # service first (it defines errors of its own, which no state machine catches)
    alone = names_after_importing()
    after_the_api = names_after_importing("functions.api.service")
    # Then both see the same names, and none of the API's
    assert alone == after_the_api
    assert "EvaluationNotFoundError" not in after_the_api


def test_a_subclass_defined_elsewhere_is_not_one_of_the_names():
    class SomeTestError(BakeoffError):
        pass

    assert "SomeTestError" not in all_error_names()


def test_every_error_class_in_the_module_is_named():
    defined = {
        name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, BakeoffError)
    }
    assert all_error_names() == defined
    assert {
        "BakeoffError",
        "RequestValidationError",
        "BudgetExceededError",
        "ModelThrottledError",
        "StorageError",
        "ReportError",
    } <= all_error_names()
