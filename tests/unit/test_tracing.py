"""SDK tracing is opt-in: with it off the X-Ray SDK's core is never imported (its recorder costs about
200 ms of every cold start) and the handlers' Tracer decorators still pass results and errors through."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakeoff_offline.template import read_stack

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, sys; import bakeoff.observability as o; "
    "print(json.dumps([o.sdk_tracing_enabled(), 'aws_xray_sdk.core' in sys.modules]))"
)


def _probe(**env: str) -> list[bool]:
    run_env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"} | env
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=run_env, check=True)
    return json.loads(out.stdout)


def test_with_tracing_off_the_xray_sdk_core_is_not_imported():
    assert _probe(POWERTOOLS_TRACE_DISABLED="true") == [False, False]


def test_with_tracing_on_the_tracer_uses_the_xray_sdk():
    assert _probe(POWERTOOLS_TRACE_DISABLED="false") == [True, True]


def test_an_untraced_handler_returns_and_raises_as_before():
    from aws_lambda_powertools import Tracer

    from bakeoff.observability import UntracedProvider

    tracer = Tracer(provider=UntracedProvider(), disabled=True)

    @tracer.capture_lambda_handler
    def handler(event, context):
        if event.get("fail"):
            raise ValueError("bad event")
        return {"ok": event["n"] + 1}

    @tracer.capture_method
    def helper(n):
        return n * 2

    assert handler({"n": 1}, None) == {"ok": 2}
    assert helper(3) == 6
    with pytest.raises(ValueError, match="bad event"):
        handler({"fail": True}, None)


@pytest.mark.parametrize(("value", "disabled"), [("false", "true"), ("true", "false")])
def test_the_template_parameter_sets_every_function_s_trace_switch(value, disabled):
    stack = read_stack(ROOT, parameters={"EnableSdkTracing": value})
    assert {spec.environment["POWERTOOLS_TRACE_DISABLED"] for spec in stack.functions.values()} == {disabled}
