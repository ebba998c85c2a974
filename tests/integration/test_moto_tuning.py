"""The offline stack's changes to moto (tools/bakeoff_offline/moto_tuning.py): each is in place inside
``tuned_moto``, undone after it, and changes speed only. The workflow tests in tests/statemachine run
the whole ASL under it; these check the mechanisms, and fail loudly if a moto upgrade moves a name."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from moto import mock_aws

from bakeoff_offline import moto_tuning
from bakeoff_offline.moto_tuning import tuned_moto

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = (ROOT / "statemachine" / "evaluation.asl.json").read_text(encoding="utf-8")


def test_every_patched_name_exists_in_this_moto():
    for module_name, attribute in [(moto_tuning.PARSER_MODULE, "AmazonStateLanguageParser"),
                                   (moto_tuning.LAMBDA_TASKS_MODULE, "boto_client_for"),
                                   (moto_tuning.RETRY_MODULE, "time"),
                                   *((m, "parse") for m in moto_tuning.JSON_PATH_MODULES)]:
        assert hasattr(importlib.import_module(module_name), attribute), f"{module_name}.{attribute} moved"
    assert "_url_module" in importlib.import_module(moto_tuning.S3_MODELS_MODULE).S3Backend.__dict__
    factory = importlib.import_module(moto_tuning.ERRORS_MODULE).ErrorLookupFactory
    assert "for_service" in factory.__dict__ and "_create_error_lut" in factory.__dict__


def test_the_interpreter_imports_without_ec2_and_batch_stays_importable():
    code = ("import sys; from bakeoff_offline.moto_tuning import import_interpreter; import_interpreter(); "
            "print(json.dumps(['moto.ec2.models' in sys.modules, 'moto.batch' in sys.modules])); "
            "import moto.batch; print(json.dumps(hasattr(moto.batch, 'batch_backends')))")
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


def test_only_step_functions_and_lambda_requests_go_unsigned(monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    seen: dict[str, str | None] = {}

    def capture(service: str):
        def handler(request, **kwargs):
            value = request.headers.get("Authorization")
            seen[service] = value.decode() if isinstance(value, bytes) else value
        return handler

    with mock_aws(), tuned_moto():
        clients = {name: boto3.client(name, aws_access_key_id="k", aws_secret_access_key="s")
                   for name in ("stepfunctions", "s3", "bedrock-runtime")}
        for name, client in clients.items():
            client.meta.events.register_first("before-send", capture(name))
        clients["stepfunctions"].list_state_machines()
        clients["s3"].list_buckets()
        with pytest.raises(Exception):  # noqa: B017 - moto has no Converse; only the signature matters
            clients["bedrock-runtime"].converse(modelId="m", messages=[{"role": "user", "content": [{"text": "x"}]}])
    assert seen["stepfunctions"] is None
    assert seen["s3"] and seen["s3"].startswith("AWS4-HMAC-SHA256")
    assert seen["bedrock-runtime"] and seen["bedrock-runtime"].startswith("AWS4-HMAC-SHA256")


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
    monkeypatch.setattr(factory, "_create_error_lut",
                        staticmethod(lambda model: built.append(model.service_name) or real_build(model)))
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


def _parsed_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pickle"))


def test_a_parsed_definition_is_kept_on_disk_and_serves_the_next_process(tmp_path, monkeypatch):
    parser = importlib.import_module(moto_tuning.PARSER_MODULE).AmazonStateLanguageParser
    with mock_aws(), tuned_moto(cache_dir=tmp_path):
        program, _ = parser.parse(DEFINITION)
    assert len(_parsed_files(tmp_path)) == 1

    def no_antlr(definition):
        raise AssertionError("parsed again: the cache was not used")

    monkeypatch.setattr(parser, "parse", staticmethod(no_antlr))  # as a new process would find it
    with mock_aws(), tuned_moto(cache_dir=tmp_path):
        cached, tree = parser.parse(DEFINITION)
    assert type(cached) is type(program) and tree is None
    assert [state for state in cached.states.states] == [state for state in program.states.states]


def test_a_cache_file_that_cannot_be_read_is_parsed_afresh_and_replaced(tmp_path):
    parser = importlib.import_module(moto_tuning.PARSER_MODULE).AmazonStateLanguageParser
    with mock_aws(), tuned_moto(cache_dir=tmp_path):
        parser.parse(DEFINITION)
    (kept,) = _parsed_files(tmp_path)
    kept.write_bytes(b"not a pickle")
    with mock_aws(), tuned_moto(cache_dir=tmp_path):
        program, tree = parser.parse(DEFINITION)
    assert tree is not None  # a real parse
    assert kept.read_bytes() != b"not a pickle" and len(_parsed_files(tmp_path)) == 1


def test_a_definition_that_does_not_parse_is_not_kept(tmp_path):
    parser = importlib.import_module(moto_tuning.PARSER_MODULE).AmazonStateLanguageParser
    with mock_aws(), tuned_moto(cache_dir=tmp_path), pytest.raises(Exception, match="ASLParserException|line"):
        parser.parse('{"StartAt": "A", "States": {"A": {"Type": 1}}}')
    assert _parsed_files(tmp_path) == []


def test_where_the_cache_lives(monkeypatch, tmp_path):
    monkeypatch.delenv("BAKEOFF_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert moto_tuning.asl_cache_dir() == tmp_path / "bakeoff" / "asl"
    monkeypatch.setenv("BAKEOFF_CACHE_DIR", str(tmp_path / "mine"))
    assert moto_tuning.asl_cache_dir() == tmp_path / "mine"
    monkeypatch.setenv("BAKEOFF_CACHE_DIR", "")
    assert moto_tuning.asl_cache_dir() is None


def test_no_home_directory_means_no_cache_not_a_failure(monkeypatch):
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    for name in ("BAKEOFF_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert moto_tuning.asl_cache_dir() is None


def test_the_cache_folder_is_private_and_another_users_file_is_not_unpickled(tmp_path, monkeypatch):
    parser = importlib.import_module(moto_tuning.PARSER_MODULE).AmazonStateLanguageParser
    folder = tmp_path / "asl"
    with mock_aws(), tuned_moto(cache_dir=folder):
        parser.parse(DEFINITION)
    assert folder.stat().st_mode & 0o777 == 0o700
    someone_else = _parsed_files(folder)[0].stat().st_uid + 1
    monkeypatch.setattr(moto_tuning.os, "getuid", lambda: someone_else)
    with mock_aws(), tuned_moto(cache_dir=folder):
        _, tree = parser.parse(DEFINITION)
    assert tree is not None  # parsed afresh: the file on disk was not trusted
