"""``bakeoff local sam-env``: the --env-vars file and the endpoint template for ``sam local invoke``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bakeoff_cli.main import main
from bakeoff_cli.sam_local import OVERLAY_NAME
from bakeoff_offline.template import load_template, read_stack

ROOT = Path(__file__).resolve().parents[2]


def built(tmp_path: Path) -> tuple[Path, dict]:
    """A build directory whose template.yaml is ours as `sam build` writes it (long-form intrinsics)."""
    template = load_template(ROOT / "template.yaml")
    template["Resources"]["SharedLayer"]["Metadata"]["BuildArchitecture"] = "x86_64"
    build = tmp_path / "build"
    build.mkdir()
    (build / "template.yaml").write_text(yaml.safe_dump(template, sort_keys=False))
    return build, template


def test_sam_env_gives_each_function_its_environment_and_declares_the_endpoints(tmp_path, capsys) -> None:
    # Given a build
    build, template = built(tmp_path)
    # When
    code = main(
        [
            "local",
            "sam-env",
            "--build-dir",
            str(build),
            "--bucket",
            "my-bucket",
            "--out",
            str(tmp_path / "env.json"),
            "--endpoint",
            "s3=http://h:1",
            "--endpoint",
            "bedrock-runtime=http://h:2",
        ]
    )
    # Then every function has its own variables, the bucket named, and the endpoints
    assert code == 0
    env = json.loads((tmp_path / "env.json").read_text())
    assert set(env) == set(read_stack(ROOT).functions)
    for variables in env.values():
        assert variables["BUCKET_NAME"] == "my-bucket"
        assert (variables["AWS_ENDPOINT_URL_S3"], variables["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"]) == (
            "http://h:1",
            "http://h:2",
        )
    assert env["ScoreFunction"]["POWERTOOLS_SERVICE_NAME"] == "score"
    assert env["ApiFunction"]["STATE_MACHINE_ARN"].startswith("arn:aws:states:us-east-1:")
    # and the endpoint template declares them (SAM passes on no other), changing nothing else
    overlay = yaml.safe_load((build / OVERLAY_NAME).read_text())
    declared = overlay["Globals"]["Function"]["Environment"]["Variables"]
    assert declared["AWS_ENDPOINT_URL_S3"] == declared["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == ""
    assert overlay["Resources"] == template["Resources"]
    assert "--parameter-overrides Architecture=x86_64" in capsys.readouterr().out


def test_sam_env_refuses_an_unknown_service(tmp_path, capsys) -> None:
    build, _ = built(tmp_path)
    assert (
        main(
            [
                "local",
                "sam-env",
                "--build-dir",
                str(build),
                "--endpoint",
                "dynamodb=http://h:1",
                "--out",
                str(tmp_path / "env.json"),
            ]
        )
        == 2
    )
    assert "SERVICE=URL" in capsys.readouterr().out
    assert not (tmp_path / "env.json").exists()
