"""Every function x every sample event through ``sam local invoke``: the SAM build (code, layer,
handler paths, the template's environment) in a Lambda-like container, against S3 in a moto server and
Bedrock at a scripted Converse endpoint, both on the host. Each output must equal what
``bakeoff local invoke`` - the same code in-process - gives for the same event, timings aside.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from bakeoff_cli.sam_local import ENDPOINT_VARIABLES, endpoint_template, seed_bucket, write_env_vars
from bakeoff_offline.template import read_stack
from converse_local.server import ConverseServer
from tests.sam.local_services import (
    EVENTS,
    FUNCTIONS,
    Outcome,
    free_port,
    local_invoke,
    s3_client,
    sam_invoke,
    without_varying,
)
from tests.sam.sam_cli import ROOT, record_timing
from tests.support.converse_fakes import ScriptedBackend, good_responder
from tests.support.printed import printed_objects

CASES = sorted(p.relative_to(EVENTS).as_posix() for folder in FUNCTIONS for p in (EVENTS / folder).glob("*.json"))
HELD_OUT = "held-out/invalid-request.json"
# Invocations side by side: each is mostly SAM rebuilding its image around the layer and a cold start.
WORKERS = int(os.environ.get("SAM_TIER_WORKERS", "3"))


def function_of(case: str) -> str:
    return "ValidateFunction" if case == HELD_OUT else FUNCTIONS[Path(case).parent.name]


def held_out_request() -> dict[str, Any]:
    """A request no sample event holds, wrong in four fields at once."""
    event = json.loads((EVENTS / "validate" / "valid.json").read_text())
    request = copy.deepcopy(event["request"])
    request["temperature"] = 1.5
    request["topK"] = 40
    request["scoringCriteria"]["engagement"] = 0
    request["maxTokens"] = 4
    return {**event, "request": request}


@pytest.fixture(scope="module")
def invocations(local_build, lambda_image: str, bridge_ip: str, tmp_path_factory) -> dict[str, tuple[Outcome, Outcome]]:
    """Runs every case both ways; case -> (sam local invoke, bakeoff local invoke)."""
    folder = tmp_path_factory.mktemp("sam-invoke")
    held_out = folder / HELD_OUT
    held_out.parent.mkdir()
    held_out.write_text(json.dumps(held_out_request()))
    port = free_port(bridge_ip)
    moto = ThreadedMotoServer(ip_address=bridge_ip, port=port, verbose=False)
    moto.start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per S3 request otherwise
    try:
        with ConverseServer(ScriptedBackend(good_responder()), host=bridge_ip) as converse:
            moto_url = f"http://{bridge_ip}:{port}"
            endpoints = {
                ENDPOINT_VARIABLES["s3"]: moto_url,
                ENDPOINT_VARIABLES["stepfunctions"]: moto_url,
                ENDPOINT_VARIABLES["bedrock-runtime"]: converse.url,
            }
            template = endpoint_template(local_build.path / "template.yaml", sorted(endpoints))

            def run(index_case: tuple[int, str]) -> tuple[str, tuple[Outcome, Outcome]]:
                index, case = index_case
                event = held_out if case == HELD_OUT else EVENTS / case
                function = function_of(case)
                # A bucket per invocation holding events/bucket/: side by side, none sees another's writes.
                bucket = f"bakeoff-sam-{index}"
                seed_bucket(ROOT, s3_client(moto_url), bucket)
                env_file = write_env_vars(ROOT, bucket, endpoints, folder / f"env-{index}.json")
                sam = sam_invoke(
                    function,
                    event,
                    template=template,
                    env_file=env_file,
                    architecture=local_build.architecture,
                    moto_url=moto_url,
                )
                record_timing(f"sam local invoke {function} -e {case}", sam.seconds)
                return case, (sam, local_invoke(function, event, converse.url))

            with ThreadPoolExecutor(WORKERS) as pool:
                return dict(pool.map(run, enumerate([*CASES, HELD_OUT])))
    finally:
        moto.stop()


def test_every_function_has_sample_events() -> None:
    assert {Path(c).parent.name for c in CASES} == set(FUNCTIONS)


@pytest.mark.parametrize("case", CASES)
def test_sam_local_invoke_gives_what_bakeoff_local_invoke_gives(case: str, invocations) -> None:
    sam, local = invocations[case]
    assert without_varying(sam.output) == without_varying(local.output)


def test_a_held_out_invalid_request_is_refused_field_by_field(invocations) -> None:
    # Given a request that is in no sample event, wrong in four fields
    sam, local = invocations[HELD_OUT]
    # When ValidateFunction ran on it in the container
    # Then it failed as Lambda reports a handler's exception, naming each field
    assert sam.output["errorType"] == "RequestValidationError"
    details = json.loads(sam.output["errorMessage"])
    assert sorted(e["field"] for e in details["errors"]) == [
        "maxTokens",
        "scoringCriteria.engagement.weight",
        "temperature",
        "topK",
    ]
    assert without_varying(sam.output) == without_varying(local.output)


def test_each_container_emits_metrics_as_its_own_service(invocations) -> None:
    """In its own container each function's Powertools Metrics names that function's service, as on
    Lambda (in one process the layer's single Metrics object keeps its first importer's)."""
    services = {
        logical_id: spec.environment["POWERTOOLS_SERVICE_NAME"]
        for logical_id, spec in read_stack(ROOT).functions.items()
    }
    seen = []
    for case, (sam, _) in invocations.items():
        function = function_of(case)
        for record in printed_objects(sam.log, '{"_aws"'):
            seen.append((case, record["service"]))
            assert record["service"] == services[function], (case, record)
    assert {"api", "score"} <= {service for _, service in seen}, seen
