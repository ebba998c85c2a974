"""The offline stack's changes to moto (tools/bakeoff_offline/moto_tuning.py): each is in place inside
``tuned_moto``, undone after it, and changes speed only; on a moto they were not checked with, plain
moto runs instead. The workflow tests in tests/statemachine run the whole ASL under it; these check the
mechanisms and the gate, and fail loudly if a moto upgrade moves a name."""

from __future__ import annotations

import importlib
import json
import logging
import subprocess
import sys
from pathlib import Path

import moto
import pytest
from botocore import UNSIGNED
from moto import mock_aws

from bakeoff_offline import moto_tuning
from bakeoff_offline.moto_tuning import tuned_moto
from bakeoff_offline.stack import OfflineStack

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = (ROOT / "statemachine" / "evaluation.asl.json").read_text(encoding="utf-8")


def test_this_moto_is_a_known_good_version_with_every_patched_name():
    # An upgrade fails here first: check each tuning against the new moto, then add its version.
    assert moto.__version__ in moto_tuning.KNOWN_GOOD_MOTO
    assert moto_tuning.why_untuned() is None
    names = moto_tuning.SPEED_NAMES + moto_tuning.FIDELITY_NAMES + moto_tuning.RETRY_NAMES
    assert moto_tuning.missing_names(names) == []
    for module_name, attribute in [
        (moto_tuning.PARSER_MODULE, "AmazonStateLanguageParser"),
        (moto_tuning.LAMBDA_TASKS_MODULE, "boto_client_for"),
        (moto_tuning.RETRY_MODULE, "time"),
        *((m, "parse") for m in moto_tuning.JSON_PATH_MODULES),
    ]:
        assert hasattr(importlib.import_module(module_name), attribute), f"{module_name}.{attribute} moved"
    assert "_url_module" in importlib.import_module(moto_tuning.S3_MODELS_MODULE).S3Backend.__dict__
    factory = importlib.import_module(moto_tuning.ERRORS_MODULE).ErrorLookupFactory
    assert "for_service" in factory.__dict__ and "_create_error_lut" in factory.__dict__


def test_a_name_that_moved_is_reported_missing():
    assert moto_tuning.missing_names(
        ((moto_tuning.PARSER_MODULE + ":AmazonStateLanguageParser", "gone"), ("moto.no_such_module", "parse"))
    ) == [moto_tuning.PARSER_MODULE + ":AmazonStateLanguageParser.gone", "moto.no_such_module.parse"]


def _speed_tunings_in_place() -> bool:
    parser = importlib.import_module(moto_tuning.PARSER_MODULE).AmazonStateLanguageParser
    return parser.parse(DEFINITION) is parser.parse(DEFINITION)


@pytest.mark.parametrize("change", ["another moto version", "a patched name gone"])
def test_an_unknown_moto_runs_plain_with_one_warning_and_the_same_results(monkeypatch, caplog, change):
    # Given a moto the tunings were not checked with
    if change == "another moto version":
        monkeypatch.setattr(moto, "__version__", "9.9.9")
    else:
        monkeypatch.setattr(
            moto_tuning, "SPEED_NAMES", (*moto_tuning.SPEED_NAMES, (moto_tuning.PARSER_MODULE, "renamed_in_a_new_moto"))
        )
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    parser = importlib.import_module(moto_tuning.PARSER_MODULE).AmazonStateLanguageParser
    original_parse = parser.__dict__["parse"]
    # When the offline stack tunes it
    with caplog.at_level(logging.WARNING, logger=moto_tuning.__name__), mock_aws(), tuned_moto(0.5):
        # Then no speed tuning is in place: moto parses a definition every time
        assert parser.__dict__["parse"] is original_parse and not _speed_tunings_in_place()
        # and the results are moto's own: an S3 round trip and a 412 for a failed IfMatch
        import boto3

        s3 = boto3.client("s3", aws_access_key_id="k", aws_secret_access_key="s")
        s3.create_bucket(Bucket="tuning-check")
        s3.put_object(Bucket="tuning-check", Key="a.json", Body=b"{}")
        assert s3.get_object(Bucket="tuning-check", Key="a.json")["Body"].read() == b"{}"
        with pytest.raises(s3.exceptions.ClientError) as failed:
            s3.get_object(Bucket="tuning-check", Key="a.json", IfMatch='"not-the-etag"')
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
        # while the fidelity fix and the test-only Retry scaling, which need only public-looking names, hold
        assert isinstance(importlib.import_module(moto_tuning.RETRY_MODULE).time, moto_tuning._ScaledTime)
    # and it was said once, with the reason
    warnings = [r.getMessage() for r in caplog.records if r.name == moto_tuning.__name__]
    assert len(warnings) == 1
    assert ("9.9.9" if change == "another moto version" else "renamed_in_a_new_moto") in warnings[0]
    assert "plain moto" in warnings[0]


def test_a_tuning_that_fails_midway_is_undone_whole_and_moto_runs_plain(monkeypatch, caplog):
    # Given a moto whose S3 URL module cannot be reloaded (the last speed tuning, after the parser's)
    real_reload = importlib.reload

    def reload(module):
        if module.__name__ == moto_tuning.S3_URLS_MODULE:
            raise RuntimeError("changed in a new moto")
        return real_reload(module)

    monkeypatch.setattr(importlib, "reload", reload)
    parser = importlib.import_module(moto_tuning.PARSER_MODULE).AmazonStateLanguageParser
    original_parse = parser.__dict__["parse"]
    with caplog.at_level(logging.WARNING, logger=moto_tuning.__name__), mock_aws(), tuned_moto():
        # Then none of the speed tunings stays, not even those applied before the failure
        assert parser.__dict__["parse"] is original_parse
    (warning,) = [r.getMessage() for r in caplog.records if r.name == moto_tuning.__name__]
    assert "changed in a new moto" in warning and "plain moto" in warning


def test_a_known_moto_is_tuned_without_a_word(caplog):
    with caplog.at_level(logging.WARNING, logger=moto_tuning.__name__), mock_aws(), tuned_moto():
        assert _speed_tunings_in_place()
    assert [r for r in caplog.records if r.name == moto_tuning.__name__] == []


def test_the_interpreter_imports_without_ec2_and_batch_stays_importable():
    code = (
        "import sys; from bakeoff_offline.moto_tuning import import_interpreter; import_interpreter(); "
        "print(json.dumps(['moto.ec2.models' in sys.modules, 'moto.batch' in sys.modules])); "
        "import moto.batch; print(json.dumps(hasattr(moto.batch, 'batch_backends')))"
    )
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    first, second = out.stdout.splitlines()
    assert json.loads(first) == [False, False]  # no EC2 tables built; the bare package was removed
    assert json.loads(second) is True  # a real import afterwards gets the whole package


def test_a_definition_and_a_json_path_are_parsed_once_and_the_originals_come_back():
    parser_module = importlib.import_module(moto_tuning.PARSER_MODULE)
    json_path = importlib.import_module(moto_tuning.JSON_PATH_MODULES[0])
    original_parse, original_path_parse = parser_module.AmazonStateLanguageParser.parse, json_path.parse
    with mock_aws(), tuned_moto():
        parse = parser_module.AmazonStateLanguageParser.parse
        assert parse(DEFINITION) is parse(DEFINITION)
        assert json_path.parse("$.models[0]") is json_path.parse("$.models[0]")
        assert json_path.extract_json("$.models[1]", {"models": ["a", "b"]}) == "b"
    assert parser_module.AmazonStateLanguageParser.parse is original_parse
    assert json_path.parse is original_path_parse


def test_a_definition_that_does_not_parse_still_fails_every_time():
    parser_module = importlib.import_module(moto_tuning.PARSER_MODULE)
    with mock_aws(), tuned_moto():
        for _ in range(2):  # an error is not cached as a result
            with pytest.raises(Exception, match="ASLParserException|line"):
                parser_module.AmazonStateLanguageParser.parse('{"StartAt": "A", "States": {"A": {"Type": 1}}}')


def test_lambda_tasks_share_one_client_per_endpoint(monkeypatch):
    tasks = importlib.import_module(moto_tuning.LAMBDA_TASKS_MODULE)
    with mock_aws(), tuned_moto():
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:1")
        one = tasks.boto_client_for(region="us-east-1", service="lambda")
        assert tasks.boto_client_for(region="us-east-1", service="lambda") is one
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:2")
        other = tasks.boto_client_for(region="us-east-1", service="lambda")
        assert other is not one and other.meta.endpoint_url == "http://127.0.0.1:2"


class _Sent(Exception):
    """Raised by a before-send hook once it has seen the request: nothing goes on the wire."""


def authorization_of(client, call) -> str | None:
    """The Authorization header ``call(client)`` would send."""
    seen: list[str | None] = []

    def capture(request, **kwargs):
        value = request.headers.get("Authorization")
        seen.append(value.decode() if isinstance(value, bytes) else value)
        raise _Sent

    client.meta.events.register_first("before-send", capture)
    try:
        with pytest.raises(_Sent):
            call(client)
    finally:
        client.meta.events.unregister("before-send", capture)
    return seen[0]


def test_only_the_lambda_tasks_and_the_stacks_step_functions_calls_go_unsigned(monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    tasks = importlib.import_module(moto_tuning.LAMBDA_TASKS_MODULE)
    with mock_aws(), tuned_moto():
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:1")
        task_client = tasks.boto_client_for(region="us-east-1", service="lambda")
        lambda_auth = authorization_of(task_client, lambda c: c.invoke(FunctionName="f", Payload=b"{}"))
        others = {
            name: boto3.client(name, aws_access_key_id="k", aws_secret_access_key="s")
            for name in ("stepfunctions", "s3", "bedrock-runtime")
        }
        s3_auth = authorization_of(others["s3"], lambda c: c.list_buckets())
        bedrock_auth = authorization_of(
            others["bedrock-runtime"],
            lambda c: c.converse(modelId="m", messages=[{"role": "user", "content": [{"text": "x"}]}]),
        )
        # botocore is not patched: a Step Functions client of the handlers' own (the API's) signs as on AWS
        sfn_auth = authorization_of(others["stepfunctions"], lambda c: c.list_state_machines())
    assert lambda_auth is None and task_client.meta.config.signature_version is UNSIGNED
    for signed in (s3_auth, bedrock_auth, sfn_auth):
        assert signed and signed.startswith("AWS4-HMAC-SHA256")


def test_the_offline_stacks_own_step_functions_client_is_unsigned_and_moto_takes_it():
    with OfflineStack(ROOT) as stack:
        assert stack.sfn.meta.config.signature_version is UNSIGNED
        assert authorization_of(stack.sfn, lambda c: c.list_state_machines()) is None
        assert [m["name"] for m in stack.sfn.list_state_machines()["stateMachines"]] == [
            stack.state_machine_arn.rsplit(":", 1)[1]
        ]


def test_s3_requests_stop_reloading_the_url_module_and_still_work(monkeypatch):
    import boto3

    s3_models = importlib.import_module(moto_tuning.S3_MODELS_MODULE)
    original = s3_models.S3Backend.__dict__["_url_module"]
    reloads: list[str] = []
    real_reload = importlib.reload
    monkeypatch.setattr(importlib, "reload", lambda module: reloads.append(module.__name__) or real_reload(module))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(), tuned_moto():
        reloads.clear()
        s3 = boto3.client("s3", aws_access_key_id="k", aws_secret_access_key="s")
        s3.create_bucket(Bucket="tuning-check")
        s3.put_object(Bucket="tuning-check", Key="a.json", Body=b"{}")
        assert s3.get_object(Bucket="tuning-check", Key="a.json")["Body"].read() == b"{}"
        assert reloads == []
    assert s3_models.S3Backend.__dict__["_url_module"] is original


def test_s3_errors_share_one_error_table_and_still_reach_the_caller(monkeypatch):
    import boto3

    factory = importlib.import_module(moto_tuning.ERRORS_MODULE).ErrorLookupFactory
    original = factory.__dict__["for_service"]
    built: list[str] = []
    real_build = factory._create_error_lut
    monkeypatch.setattr(
        factory, "_create_error_lut", staticmethod(lambda model: built.append(model.service_name) or real_build(model))
    )
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(), tuned_moto():
        s3 = boto3.client("s3", aws_access_key_id="k", aws_secret_access_key="s")
        s3.create_bucket(Bucket="tuning-check")
        for _ in range(3):
            with pytest.raises(s3.exceptions.NoSuchKey):
                s3.get_object(Bucket="tuning-check", Key="missing.json")
        assert built.count("s3") == 1  # moto alone builds it once per error: 3 times here
    assert factory.__dict__["for_service"] is original


def test_s3_keeps_motos_model_extras_under_the_tuning(monkeypatch):
    """moto reads S3's model with extras of its own (error shapes, statuses); a tuning that read the
    SDK's plain model instead turned this 412 into a 400 (tried, caught in review, dropped)."""
    import boto3

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(), tuned_moto():
        s3 = boto3.client("s3", aws_access_key_id="k", aws_secret_access_key="s")
        s3.create_bucket(Bucket="tuning-check")
        s3.put_object(Bucket="tuning-check", Key="a.json", Body=b"{}")
        with pytest.raises(s3.exceptions.ClientError) as failed:
            s3.get_object(Bucket="tuning-check", Key="a.json", IfMatch='"not-the-etag"')
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
