"""template.yaml holds nothing open to strangers: keys on every method, a usage plan with throttle and
quota, a body validator, least-privilege roles, a bucket that is private and TLS-only. Checked on the
template as written, on the template as the SAM transform expands it (with samtranslator from
.venv-tools), and by checkov (from .venv-checkov) and cfn-lint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bakeoff_offline.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def _tool(env_var: str, venv: str, name: str) -> str | None:
    found = os.environ.get(env_var) or str(ROOT / venv / "bin" / name)
    return found if Path(found).exists() else shutil.which(name)


def _missing(what: str) -> None:
    message = f"{what} is not installed (see requirements-tools.txt)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(policies: list[Any]) -> Iterator[dict[str, Any]]:
    """Inline statements of a SAM ``Policies`` list or of an IAM role's ``Policies``."""
    for policy in policies:
        if isinstance(policy, dict) and "Statement" in policy:
            yield from _as_list(policy["Statement"])
        elif isinstance(policy, dict) and "PolicyDocument" in policy:
            yield from _as_list(policy["PolicyDocument"]["Statement"])


def _grants_data_access(statement: dict[str, Any]) -> bool:
    return any(str(a).lower().startswith(("s3:", "bedrock:")) or a == "*" for a in _as_list(statement["Action"]))


def _is_star(resource: Any) -> bool:
    return resource == "*" or resource == ["*"] or (isinstance(resource, list) and "*" in resource)


# --- the API ---------------------------------------------------------------------------------------


API_NAME, API = next(iter(of_type("AWS::Serverless::Api").items()))
API_PROPS = API["Properties"]


def api_events() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for name, resource in of_type("AWS::Serverless::Function").items():
        for event_name, event in resource["Properties"].get("Events", {}).items():
            if event["Type"] == "Api":
                out.append((name, event_name, event["Properties"]))
    return out


def test_there_are_api_methods_and_each_requires_an_api_key() -> None:
    events = api_events()
    assert {(e["Method"].upper(), e["Path"]) for _, _, e in events} >= {
        ("POST", "/evaluations"),
        ("GET", "/evaluations/{evaluationId}"),
    }
    assert API_PROPS["Auth"]["ApiKeyRequired"] is True
    for function, event_name, props in events:
        assert props["RestApiId"] == {"Ref": API_NAME}, f"{function}.{event_name} is on another API"
        assert props.get("Auth", {}).get("ApiKeyRequired") is True, f"{function}.{event_name}"


def test_a_usage_plan_throttles_and_rations_each_key() -> None:
    plan = API_PROPS["Auth"]["UsagePlan"]
    assert plan["CreateUsagePlan"] == "PER_API"
    parameters = TEMPLATE["Parameters"]
    for section, field in (
        ("Throttle", "RateLimit"),
        ("Throttle", "BurstLimit"),
        ("Quota", "Limit"),
        ("Quota", "Period"),
    ):
        ref = plan[section][field]["Ref"]
        assert ref in parameters and parameters[ref].get("Default") not in (None, "")
    assert float(parameters["ApiThrottleRateLimit"]["Default"]) > 0


def test_the_body_is_validated_at_the_gateway_against_the_model() -> None:
    (post,) = [e for _, _, e in api_events() if e["Method"].upper() == "POST"]
    model = post["RequestModel"]
    assert model["Required"] is True and model["ValidateBody"] is True
    schema = API_PROPS["Models"][model["Model"]]
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["additionalProperties"] is False
    # The template carries a copy of the API's schema file: the two must not drift apart.
    schema_file = Path(__file__).parents[2] / "api" / "evaluation-request.schema.json"
    assert schema == json.loads(schema_file.read_text(encoding="utf-8")), (
        "template.yaml's EvaluationRequest model differs from the schema file: run tools/dev/sync_api_schema.py"
    )


def test_gateway_refusals_say_when_to_retry() -> None:
    responses = API_PROPS["GatewayResponses"]
    for kind in ("THROTTLED", "QUOTA_EXCEEDED"):
        assert responses[kind]["StatusCode"] == "429"
        assert int(responses[kind]["ResponseParameters"]["Headers"]["Retry-After"].strip("'")) > 0
    assert "validationErrorString" in responses["BAD_REQUEST_BODY"]["ResponseTemplates"]["application/json"]


def test_cors_is_off_unless_a_parameter_names_an_origin() -> None:
    assert TEMPLATE["Parameters"]["CorsAllowOrigin"]["Default"] == ""
    condition, enabled, disabled = API_PROPS["Cors"]["Fn::If"]
    assert TEMPLATE["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CorsAllowOrigin"}, ""]}]}
    assert disabled == {"Ref": "AWS::NoValue"}
    assert "*" not in json.dumps(enabled["AllowOrigin"])
    assert "AWS::LanguageExtensions" in TEMPLATE["Transform"]  # resolves that Fn::If before the SAM transform


def test_access_logs_without_bodies_or_key_values() -> None:
    setting = API_PROPS["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert "$context.identity.apiKeyId" in setting["Format"]
    assert '$context.identity.apiKey"' not in setting["Format"]  # the key itself
    assert all(s.get("DataTraceEnabled") is False for s in API_PROPS["MethodSettings"])
    assert RESOURCES["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] > 0
    assert API_PROPS["TracingEnabled"] is True


# --- least privilege -------------------------------------------------------------------------------


def all_statements() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in RESOURCES.items():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            for statement in statements(props.get("Policies", [])):
                yield name, statement
        if resource["Type"] == "AWS::IAM::Role":
            for statement in statements(props.get("Policies", [])):
                yield name, statement


def test_no_statement_grants_s3_or_bedrock_on_every_resource() -> None:
    found = list(all_statements())
    assert len(found) >= 10
    for name, statement in found:
        if _grants_data_access(statement):
            assert not _is_star(statement["Resource"]), f"{name}: {statement.get('Sid')}"


def test_no_broad_managed_policies_or_bucket_wide_policy_templates() -> None:
    broad = (
        "S3CrudPolicy",
        "S3FullAccessPolicy",
        "S3ReadPolicy",
        "S3WritePolicy",
        "AmazonS3FullAccess",
        "AmazonBedrockFullAccess",
        "CloudWatchLogsFullAccess",
        "AWSStepFunctionsFullAccess",
    )
    for name, resource in RESOURCES.items():
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            named = policy if isinstance(policy, str) else next(iter(policy)) if isinstance(policy, dict) else ""
            assert named not in broad, f"{name} uses {named}"
        for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []) or []:
            assert "FullAccess" not in json.dumps(arn), f"{name}: {arn}"


def test_s3_access_is_by_prefix_and_listing_is_the_only_bucket_level_grant() -> None:
    prefixes = (
        "/evaluations/*",
        "/evaluations/*/owner.json",
        "/checkpoints/answers/*",
        "/checkpoints/verdicts/*",
        "/checkpoints/comparisons/*",
        "/reports/*",
        "/datasets/*",
    )
    for name, statement in all_statements():
        actions = [str(a) for a in _as_list(statement["Action"])]
        if not any(a.startswith("s3:") for a in actions):
            continue
        assert all(a in ("s3:GetObject", "s3:PutObject", "s3:ListBucket") for a in actions), (name, actions)
        for resource in _as_list(statement["Resource"]):
            text = json.dumps(resource)
            if actions == ["s3:ListBucket"]:
                assert resource == {"Fn::GetAtt": ["EvaluationBucket", "Arn"]}, name
            else:
                assert any(text.endswith(p + '"}') for p in prefixes), (name, text)


def test_bedrock_only_on_the_allowed_models_and_their_profiles() -> None:
    bedrock = [(n, s) for n, s in all_statements() if any(str(a).startswith("bedrock:") for a in _as_list(s["Action"]))]
    # Batch mode (inference "batch"): BatchJobFunction creates the jobs and watches them (next test).
    assert {n for n, _ in bedrock} == {"InvokeModelFunction", "ScoreFunction", "BatchJobFunction"}
    for name, statement in bedrock:
        if statement.get("Sid") == "WatchJobs":
            continue
        if name == "BatchJobFunction":
            assert _as_list(statement["Action"]) == ["bedrock:CreateModelInvocationJob"]
        else:
            assert _as_list(statement["Action"]) == ["bedrock:InvokeModel"]
        text = json.dumps(statement["Resource"])
        assert "foundation-model/${Models}" in text and "inference-profile/*.${Profiles}" in text, name
        assert "AllowedModelIds" in text
        assert 'inference-profile/*"' not in text and "inference-profile/*," not in text


def test_batch_jobs_are_created_on_allowed_models_and_run_by_a_role_only_bedrock_assumes() -> None:
    batch = {s["Sid"]: s for s in statements(RESOURCES["BatchJobFunction"]["Properties"]["Policies"])}
    watch = batch["WatchJobs"]
    assert sorted(_as_list(watch["Action"])) == ["bedrock:GetModelInvocationJob", "bedrock:StopModelInvocationJob"]
    assert json.dumps(watch["Resource"]).endswith(':model-invocation-job/*"}')
    create = json.dumps(batch["CreateJobsOnAllowedModels"]["Resource"])
    assert ":model-invocation-job/*," in create and "foundation-model/${Models}" in create
    # The function may hand Bedrock this stack's batch role, and no other role, to no other service
    passing = batch["HandBedrockItsServiceRole"]
    assert passing["Action"] == "iam:PassRole"
    assert passing["Resource"] == {"Fn::GetAtt": ["BatchInferenceRole", "Arn"]}
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    role = RESOURCES["BatchInferenceRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert json.dumps(trust["Condition"]["ArnLike"]).endswith(':model-invocation-job/*"}}')
    # Bedrock reads the records and writes the results under checkpoints/answers/ (answers/batch/...) only
    s3 = [s for s in statements(role["Policies"]) if any(str(a).startswith("s3:") for a in _as_list(s["Action"]))]
    objects = [s for s in s3 if _as_list(s["Action"]) != ["s3:ListBucket"]]
    assert [s["Resource"] for s in objects] == [{"Fn::Sub": "${EvaluationBucket.Arn}/checkpoints/answers/*"}]


def test_the_api_may_start_and_read_only_this_state_machine() -> None:
    api_statements = {s["Sid"]: s for s in statements(RESOURCES["ApiFunction"]["Properties"]["Policies"])}
    assert api_statements["StartEvaluations"]["Action"] == "states:StartExecution"
    assert api_statements["StartEvaluations"]["Resource"] == {"Ref": "EvaluationStateMachine"}
    assert api_statements["ReadEvaluationStatus"]["Action"] == "states:DescribeExecution"
    assert "execution:${EvaluationStateMachine.Name}:*" in json.dumps(api_statements["ReadEvaluationStatus"])
    assert api_statements["ReadReports"]["Action"] == "s3:GetObject"


def test_each_evaluation_belongs_to_the_key_that_created_it() -> None:
    """Tenant isolation by design: every API method requires a key (so API Gateway passes its
    ``apiKeyId``); the API function may write an evaluation's owner and nothing else of it; Validate
    reads the owner, so the evaluation's checkpoints are scoped to that key under the prefixes the
    model functions may use (``checkpoints/<kind>/keys/<apiKeyId>/`` is inside ``checkpoints/<kind>/*``)."""
    from bakeoff.storage import checkpoint_key

    assert api_events() and all(props["Auth"]["ApiKeyRequired"] is True for _, _, props in api_events())
    api = {s["Sid"]: s for s in statements(RESOURCES["ApiFunction"]["Properties"]["Policies"])}
    writes = [s for s in api.values() if "s3:PutObject" in _as_list(s["Action"])]
    assert [s["Resource"] for s in writes] == [{"Fn::Sub": "${EvaluationBucket.Arn}/evaluations/*/owner.json"}]
    validate = {s["Sid"]: s for s in statements(RESOURCES["ValidateFunction"]["Properties"]["Policies"])}
    assert validate["ReadOwner"]["Action"] == "s3:GetObject"
    assert json.dumps(validate["ReadOwner"]["Resource"]).endswith('/evaluations/*/owner.json"}')
    granted = {json.dumps(r) for _, s in all_statements() for r in _as_list(s["Resource"])}
    for kind in ("answers", "verdicts", "comparisons"):
        scoped = checkpoint_key(kind, {"x": 1}, scope="abc123")
        assert scoped.startswith(f"checkpoints/{kind}/keys/abc123/")
        assert f'{{"Fn::Sub": "${{EvaluationBucket.Arn}}/checkpoints/{kind}/*"}}' in granted


# --- the bucket ------------------------------------------------------------------------------------


def test_the_bucket_is_private_encrypted_and_tls_only() -> None:
    bucket = RESOURCES["EvaluationBucket"]["Properties"]
    assert all(
        bucket["PublicAccessBlockConfiguration"][k] is True
        for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    )
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert any(
        r["Prefix"] == "checkpoints/" and r["Status"] == "Enabled" and r["ExpirationInDays"] > 0
        for r in bucket["LifecycleConfiguration"]["Rules"]
    )
    (policy,) = of_type("AWS::S3::BucketPolicy").values()
    denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(
        s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        and s["Action"] == "s3:*"
        and {"Fn::GetAtt": ["EvaluationBucket", "Arn"]} in s["Resource"]
        for s in denies
    )
    assert any("${EvaluationBucket.Arn}/*" in json.dumps(s["Resource"]) for s in denies)


def test_every_checkov_suppression_gives_its_reason() -> None:
    skips = [
        (name, skip)
        for name, r in RESOURCES.items()
        for skip in r.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert skip["id"].startswith("CKV_") and len(skip.get("comment", "")) >= 40, (name, skip)


# --- the expanded template (SAM transform) ---------------------------------------------------------

_TRANSFORM = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from bakeoff_offline.template import load_template
from pathlib import Path
from samtranslator.translator.transform import transform

def pick(node, conds):
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            cond, yes, no = node["Fn::If"]
            return pick(yes if conds[cond] else no, conds)
        out = {}
        for k, v in node.items():
            v = pick(v, conds)
            if v != {"Ref": "AWS::NoValue"}:
                out[k] = v
        return out
    if isinstance(node, list):
        return [pick(v, conds) for v in node]
    return node

class NoManagedPolicies:
    def load(self):
        return {}

template = load_template(Path(sys.argv[2]))
# What AWS::LanguageExtensions does first: resolve the conditions (CORS off, or on).
template = pick(template, {"CorsEnabled": sys.argv[3] == "cors", "HasAlarmEmail": False, "InUsEast1": True,
                           "SdkTracing": False})
template["Transform"] = "AWS::Serverless-2016-10-31"
for resource in template["Resources"].values():
    for key in ("CodeUri", "ContentUri", "DefinitionUri"):
        if key in resource.get("Properties", {}):
            resource["Properties"][key] = "s3://bucket/" + key
print(json.dumps(transform(template, {}, NoManagedPolicies()), default=str))
"""


@pytest.fixture(scope="module", params=["no-cors", "cors"])
def expanded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    python = _tool("SAM_PYTHON", ".venv-tools", "python")
    if not python or subprocess.run([python, "-c", "import samtranslator"], capture_output=True).returncode:
        _missing("samtranslator (aws-sam-cli's venv)")
    script = tmp_path_factory.mktemp("sam") / "transform.py"
    script.write_text(_TRANSFORM)
    done = subprocess.run(
        [python, str(script), str(ROOT / "tools"), str(ROOT / "template.yaml"), request.param],
        capture_output=True,
        text=True,
        env=os.environ | {"AWS_DEFAULT_REGION": "us-east-1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout) | {"_cors": request.param == "cors"}


def test_expanded_every_method_requires_a_key(expanded) -> None:
    (api,) = [r for r in expanded["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    body = api["Properties"]["Body"]
    assert body["components"]["securitySchemes"]["api_key"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}
    methods = [(path, verb, op) for path, ops in body["paths"].items() for verb, op in ops.items()]
    assert len([m for m in methods if m[1] != "options"]) == 2
    assert any(m[1] == "options" for m in methods) == expanded["_cors"]
    for path, verb, op in methods:
        if verb == "options":
            # Only with CORS on: the preflight, a MOCK integration that runs nothing and cannot carry a key.
            assert expanded["_cors"]
            assert op["x-amazon-apigateway-integration"]["type"] == "mock"
            continue
        assert op["security"] == [{"api_key": []}], (path, verb)
        assert op["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    post = body["paths"]["/evaluations"]["post"]
    assert body["x-amazon-apigateway-request-validators"][post["x-amazon-apigateway-request-validator"]] == {
        "validateRequestParameters": False,
        "validateRequestBody": True,
    }
    assert post["requestBody"]["required"] is True


def test_expanded_usage_plan_key_and_stage(expanded) -> None:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in expanded["Resources"].values():
        by_type.setdefault(resource["Type"], []).append(resource["Properties"])
    (plan,) = by_type["AWS::ApiGateway::UsagePlan"]
    assert plan["Throttle"]["RateLimit"] > 0 and plan["Throttle"]["BurstLimit"] >= 1
    assert plan["Quota"]["Limit"] > 0 and plan["Quota"]["Period"] in ("DAY", "WEEK", "MONTH")
    assert plan["ApiStages"]
    assert len(by_type["AWS::ApiGateway::ApiKey"]) == 1 and len(by_type["AWS::ApiGateway::UsagePlanKey"]) == 1
    (stage,) = by_type["AWS::ApiGateway::Stage"]
    assert stage["AccessLogSetting"]["DestinationArn"] and stage["TracingEnabled"] is True


def test_expanded_roles_grant_no_s3_or_bedrock_on_star(expanded) -> None:
    roles = [r["Properties"] for r in expanded["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert len(roles) >= 6
    for role in roles:
        for statement in statements(role.get("Policies", [])):
            if _grants_data_access(statement):
                assert not _is_star(statement["Resource"]), statement


# --- scanners --------------------------------------------------------------------------------------


def test_checkov_finds_nothing_unsuppressed() -> None:
    checkov = _tool("CHECKOV", ".venv-checkov", "checkov")
    if not checkov:
        _missing("checkov")
    done = subprocess.run(
        [
            checkov,
            "-f",
            str(ROOT / "template.yaml"),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
            "--quiet",
            "--compact",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    assert not failed, [(c["check_id"], c["resource"]) for c in failed]
    summary = reports[0]["summary"]
    assert summary["failed"] == 0 and summary["passed"] > 0
    print(
        f"checkov: Passed checks: {summary['passed']}, Failed checks: {summary['failed']}, "
        f"Skipped checks: {summary['skipped']}",
        file=sys.stderr,
    )


def test_cfn_lint_passes() -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or shutil.which("cfn-lint")
    if not cfn_lint:
        _missing("cfn-lint")
    done = subprocess.run([cfn_lint, str(ROOT / "template.yaml")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
