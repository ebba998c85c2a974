"""``bakeoff local sam-env``: what ``sam local invoke`` / ``start-lambda`` need to run the SAM build's
functions against local services (a moto server for S3 and Step Functions, a Converse endpoint).

Two files, because SAM CLI passes a function only the variables its template declares:
- ``env.json`` for ``--env-vars``: each function's environment as ``bakeoff local invoke`` resolves it
  from template.yaml (the bucket's and the state machine's names, which SAM cannot resolve locally),
  plus the endpoint variables;
- ``template.local-endpoints.yaml`` beside the built template: the same template with the endpoint
  variables (``AWS_ENDPOINT_URL_S3`` ...) declared in ``Globals``, so that SAM passes them on. The
  code, layer, handlers and every other setting are the build's own.
"""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path
from typing import Any

import yaml

from bakeoff_cli.local_run import deployment_parameters
from bakeoff_cli.paths import project_root

OVERLAY_NAME = "template.local-endpoints.yaml"
# boto3's per-service endpoint variables, by the names `--endpoint` takes.
ENDPOINT_VARIABLES = {
    "s3": "AWS_ENDPOINT_URL_S3",
    "bedrock-runtime": "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "stepfunctions": "AWS_ENDPOINT_URL_SFN",
}


def function_environments(root: Path, bucket: str, endpoints: dict[str, str]) -> dict[str, dict[str, str]]:
    """Logical ID -> the environment ``bakeoff local invoke`` gives that function, plus ``endpoints``."""
    from bakeoff_offline.template import read_stack

    stack = read_stack(root, parameters=deployment_parameters(local=False), bucket_name=bucket)
    return {logical_id: spec.environment | endpoints for logical_id, spec in stack.functions.items()}


def endpoint_template(built_template: Path, names: list[str]) -> Path:
    """Write the built template with ``names`` declared as (empty) variables of every function."""
    template: dict[str, Any] = yaml.safe_load(built_template.read_text(encoding="utf-8"))
    variables = (
        template.setdefault("Globals", {})
        .setdefault("Function", {})
        .setdefault("Environment", {})
        .setdefault("Variables", {})
    )
    for name in names:
        variables.setdefault(name, "")
    target = built_template.with_name(OVERLAY_NAME)
    partial = target.with_suffix(".partial")  # then a rename: a SAM already reading it sees a whole file
    partial.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
    partial.replace(target)
    return target


def seed_bucket(root: Path, s3: Any, bucket: str) -> int:
    """Create ``bucket`` as the template defines it and put ``events/bucket/`` in it: the objects the
    sample events refer to, the state ``bakeoff local invoke`` starts from. Returns the object count."""
    from bakeoff_offline.bucket import provision_bucket
    from bakeoff_offline.template import read_stack

    provision_bucket(s3, read_stack(root, bucket_name=bucket))
    folder = root / "events" / "bucket"
    paths = sorted(folder.rglob("*.json"))
    for path in paths:
        s3.put_object(Bucket=bucket, Key=path.relative_to(folder).as_posix(), Body=path.read_bytes())
    return len(paths)


def built_architecture(built_template: Path) -> str | None:
    """The architecture the build was made for: ``sam build`` writes the resolved BuildArchitecture of
    the layer into the built template (the functions' ``Architectures`` stay a parameter reference)."""
    template = yaml.safe_load(built_template.read_text(encoding="utf-8"))
    return next(
        (
            r.get("Metadata", {}).get("BuildArchitecture")
            for r in template.get("Resources", {}).values()
            if r.get("Type") == "AWS::Serverless::LayerVersion"
        ),
        None,
    )


def write_env_vars(root: Path, bucket: str, endpoints: dict[str, str], out: Path) -> Path:
    """Write the ``--env-vars`` file: every function's environment, for ``bucket`` and ``endpoints``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(function_environments(root, bucket, endpoints), indent=2) + "\n", encoding="utf-8")
    return out


def prepare(root: Path, build_dir: Path, bucket: str, endpoints: dict[str, str], out: Path) -> tuple[Path, Path]:
    """Write ``out`` (the ``--env-vars`` file) and the endpoint template; returns both paths."""
    template = endpoint_template(build_dir / "template.yaml", sorted(endpoints))
    return write_env_vars(root, bucket, endpoints, out), template


def sam_env(args: Namespace) -> int:
    endpoints = {}
    for item in args.endpoint:
        service, _, url = item.partition("=")
        if service not in ENDPOINT_VARIABLES or not url:
            print(f"bakeoff: --endpoint wants SERVICE=URL with SERVICE one of {', '.join(ENDPOINT_VARIABLES)}")
            return 2
        endpoints[ENDPOINT_VARIABLES[service]] = url
    root = project_root()
    build_dir = args.build_dir if args.build_dir.is_absolute() else root / args.build_dir
    if not (build_dir / "template.yaml").exists():
        print(f"bakeoff: no {build_dir}/template.yaml: run `sam build` first")
        return 2
    env_file, template = prepare(root, build_dir, args.bucket, endpoints, args.out)
    if args.seed:
        import boto3

        s3_url = endpoints.get(ENDPOINT_VARIABLES["s3"])
        if not s3_url:
            print("bakeoff: --seed needs --endpoint s3=URL (a local S3 such as a moto server)")
            return 2
        count = seed_bucket(root, boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1"), args.bucket)
        print(f"bucket {args.bucket} at {s3_url}: {count} object(s) from events/bucket/")
    architecture = built_architecture(build_dir / "template.yaml")
    override = f" --parameter-overrides Architecture={architecture}" if architecture else ""
    print(
        f"wrote {env_file} and {template}; then, e.g.:\n"
        f"  sam local invoke ValidateFunction -t {template}{override} --env-vars {env_file} "
        f"-e events/validate/valid.json [--invoke-image bakeoff/lambda-python:3.12 --skip-pull-image]"
    )
    return 0
