"""One whole evaluation in which every Lambda invocation runs in SAM's containers: the real ASL, executed
by moto's Step Functions interpreter, calls ``sam local start-lambda`` (the SAM build in the stand-in
image), whose functions read and write S3 in a moto server sharing this process's backends and ask a
scripted Converse endpoint. One candidate fails, so the Retry/Catch contract is exercised through the
container runtime's error reporting too.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from bakeoff_cli.sam_local import ENDPOINT_VARIABLES, prepare
from bakeoff_offline.stack import OfflineStack
from converse_local import wire
from converse_local.server import ConverseServer
from tests.sam.local_services import EVENTS, free_port, sam_process_env, without_varying
from tests.sam.sam_cli import IMAGE, ROOT, SAM, record_timing, sam_environment
from tests.support.converse_fakes import ScriptedBackend, ScriptedModels

REQUEST = json.loads((EVENTS / "statemachine" / "podcast-bedrock.json").read_text())
FAILING = REQUEST["models"][1]


def responder() -> ScriptedModels:
    return ScriptedModels(by_model={FAILING: lambda model_id, request: wire.invalid_model_error(model_id)})


@pytest.fixture(scope="module")
def converse(bridge_ip: str) -> Iterator[ConverseServer]:
    with ConverseServer(ScriptedBackend(responder()), host=bridge_ip) as server:
        yield server


@pytest.fixture(scope="module")
def start_lambda(
    local_build, lambda_image: str, bridge_ip: str, converse: ConverseServer, tmp_path_factory
) -> Iterator[tuple[str, str]]:
    """`sam local start-lambda` with warm containers; yields (its URL, the moto server's URL)."""
    moto_port, lambda_port = free_port(bridge_ip), free_port("127.0.0.1")
    moto_url = f"http://{bridge_ip}:{moto_port}"
    endpoints = {
        ENDPOINT_VARIABLES["s3"]: moto_url,
        ENDPOINT_VARIABLES["stepfunctions"]: moto_url,
        ENDPOINT_VARIABLES["bedrock-runtime"]: converse.url,
    }
    env_file, template = prepare(
        ROOT, local_build.path, "bakeoff-local", endpoints, tmp_path_factory.mktemp("start-lambda") / "env.json"
    )
    log = tmp_path_factory.getbasetemp() / "start-lambda.log"
    moto = ThreadedMotoServer(ip_address=bridge_ip, port=moto_port, verbose=False)
    moto.start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per S3 request otherwise
    started = time.perf_counter()
    before = lambda_containers()
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                str(SAM),
                "local",
                "start-lambda",
                "-t",
                str(template),
                "--env-vars",
                str(env_file),
                "--invoke-image",
                IMAGE,
                "--skip-pull-image",
                "--region",
                "us-east-1",
                "--host",
                "127.0.0.1",
                "--port",
                str(lambda_port),
                "--warm-containers",
                "EAGER",
                "--parameter-overrides",
                f"Architecture={local_build.architecture}",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=sam_environment(sam_process_env(moto_url)),
        )
    url = f"http://127.0.0.1:{lambda_port}"
    warm: set[str] = set()
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(f"{url}/2015-03-31/functions/none/invocations", data=b"{}", timeout=5)
            except urllib.error.HTTPError:
                break  # it answers (404 for an unknown function): the warm containers are up
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert process.poll() is None, f"start-lambda exited:\n{log.read_text()[-4000:]}"
                assert time.monotonic() < deadline, f"start-lambda did not answer in 300 s:\n{log.read_text()[-4000:]}"
                time.sleep(1)
        record_timing("sam local start-lambda --warm-containers EAGER, until it answers", time.perf_counter() - started)
        warm = lambda_containers() - before
        yield url, moto_url
    finally:
        # Ctrl+C, the way SAM expects to be stopped; it still leaves some warm containers running at times
        # (seen with 1.170), so those it started and did not remove are removed here, by ID.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        moto.stop()
        left = (warm or lambda_containers() - before) & lambda_containers()
        if left:
            subprocess.run(["docker", "rm", "-f", *sorted(left)], capture_output=True)


def lambda_containers() -> set[str]:
    """IDs of the containers SAM CLI runs functions in (it labels them)."""
    done = subprocess.run(
        ["docker", "ps", "-a", "-q", "--no-trunc", "--filter", "label=sam.cli.container.type=lambda"],
        capture_output=True,
        text=True,
    )
    return set(done.stdout.split())


def lambda_client(url: str):
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(read_timeout=120, retries={"total_max_attempts": 1}),
    )


def test_a_failed_invocation_reports_its_function_error(start_lambda) -> None:
    # Given a request Validate refuses
    url, _ = start_lambda
    event = (EVENTS / "validate" / "invalid-request.json").read_bytes()
    # When it is invoked through start-lambda as Step Functions would
    reply = lambda_client(url).invoke(FunctionName="ValidateFunction", Payload=event)
    # Then the failure is a failure: FunctionError set, and the exception's class as the error type
    body = json.loads(reply["Payload"].read())
    assert reply.get("FunctionError") == "Unhandled", body
    assert body["errorType"] == "RequestValidationError"


def in_process_report(converse: ConverseServer) -> dict:
    """The same request through the same ASL with the handlers in-process (the offline twin)."""
    with OfflineStack(ROOT, env={"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": converse.url}, retry_time_scale=0.01) as stack:
        execution = stack.run(REQUEST, evaluation_id="twin-0001", timeout=300)
        assert execution.succeeded, execution.cause
        return stack.report("twin-0001")


def summary(report: dict) -> dict:
    """What the evaluation concluded, without its ID, times and measured latencies."""
    return without_varying(
        {
            "ranking": report["ranking"],
            "totals": report["totals"],
            "models": [{k: v for k, v in m.items() if k not in ("latencyMs", "answerKey")} for m in report["models"]],
        }
    )


def test_a_whole_evaluation_runs_every_function_in_sam_containers(start_lambda, converse) -> None:
    url, _ = start_lambda
    twin = in_process_report(converse)
    # Given the real ASL offline, its Lambda tasks pointed at start-lambda
    with OfflineStack(ROOT, lambda_endpoint=url, retry_time_scale=0.01) as stack:
        # When one evaluation runs, one of its three candidates failing
        started = time.perf_counter()
        execution = stack.run(REQUEST, evaluation_id="sam-0001", timeout=600)
        record_timing("one evaluation through start-lambda (3 candidates, 1 failing)", time.perf_counter() - started)
        # Then it succeeded, the failing candidate's task failed with its own error name and was caught
        assert execution.succeeded, execution.cause
        failures = [
            e["taskFailedEventDetails"]["error"] for e in stack.history(execution.arn) if e["type"] == "TaskFailed"
        ]
        assert failures == ["InvalidModelRequestError"]
        report = stack.report("sam-0001")
        assert stack.get_object("reports/sam-0001/report.html").lower().startswith(b"<!doctype html>")
    assert report["totals"]["models"] == 3 and report["totals"]["failed"] == 1
    assert {m["modelId"]: m["status"] for m in report["models"]}[FAILING] == "failed"
    # and it concluded what the in-process twin concludes from the same answers
    assert summary(report) == summary(twin)


def test_sam_cli_would_lose_the_error_of_a_stock_awslambdaric_body() -> None:
    """Why the stand-in's ric.py drops ``requestId``: SAM CLI's own check, run on both bodies. When a
    SAM CLI release accepts the four-key body, this fails, and ric.py can go."""
    stock = {"errorMessage": "m", "errorType": "RequestValidationError", "requestId": "r", "stackTrace": []}
    trimmed = {k: v for k, v in stock.items() if k != "requestId"}
    check = (
        "import json, sys; from samcli.local.services.base_local_service import LambdaOutputParser as P; "
        "print(json.dumps([P.is_lambda_error_response(b) for b in sys.argv[1:]]))"
    )
    done = subprocess.run(
        [str(SAM.parent / "python"), "-c", check, json.dumps(stock), json.dumps(trimmed)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == [False, True]
