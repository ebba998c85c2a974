"""Regenerate ``events/`` from real executions: ``python -m bakeoff_offline.sample_events``.

Each function's sample event is the payload the state machine actually sent it, captured from an
offline run of ``events/statemachine/podcast-bedrock.json`` against a scripted Converse endpoint;
``events/bucket/`` holds the S3 objects those events refer to (the stored request, the answer and
verdict checkpoints), so ``bakeoff local invoke`` and ``sam local invoke`` (after
``aws s3 sync events/bucket s3://BUCKET/``) can run any one function on its own.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from bakeoff_offline.stack import OfflineStack
from converse_local import wire
from converse_local.server import ConverseServer

FAILING_MODEL = "meta.llama3-70b-instruct-v1:0"


class _SampleBackend:
    """Plausible canned replies: a short script per candidate, a fixed verdict from the judge."""

    def __init__(self, fail: set[str]) -> None:
        self.fail = fail

    def model_ids(self) -> list[str]:
        return []

    def converse(self, model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        if model_id in self.fail:
            raise wire.ConverseError("ValidationException", "The provided model identifier is invalid.")
        if "toolConfig" in request:
            schema = request["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]
            names = list(schema["properties"]["scores"]["properties"])
            return wire.tool_response(
                "record_verdict",
                {
                    "scores": {n: {"reason": f"Sample reason for {n}.", "score": 7} for n in names},
                    "evidence": ["The contract is worth 31.4 million dollars"],
                },
                input_tokens=2400,
                output_tokens=180,
            )
        text = (
            f"HOST A: Welcome back. Tonight, Harborview votes for an electric ferry.\n"
            f"HOST B: Seven to two, and it carries 180 passengers. (sample answer of {model_id})"
        )
        return wire.text_response(text, input_tokens=1300, output_tokens=60)


def _capture(root: Path, request: dict[str, Any], evaluation_id: str, fail: set[str]) -> tuple[dict, OfflineStack]:
    with (
        ConverseServer(_SampleBackend(fail)) as server,
        OfflineStack(root, env={"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url}) as stack,
    ):
        execution = stack.run(request, evaluation_id=evaluation_id)
        assert execution.succeeded, execution.cause
        payloads = {}
        for inv in stack.lambda_server.invocations:
            payloads.setdefault(inv.function, inv.payload)
        objects = {}
        for page in stack.s3.get_paginator("list_objects_v2").paginate(Bucket=stack.stack.bucket_name):
            for obj in page.get("Contents", []):
                if not obj["Key"].startswith("reports/"):
                    objects[obj["Key"]] = stack.get_object(obj["Key"])
        return {"payloads": payloads, "objects": objects}, stack


class _FolderS3:
    """The two S3 calls ``Store`` makes to accept a request - ``get_object`` (is there an owner?) and
    ``put_object`` - on files under a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:  # noqa: N803 - boto3's names
        path = self.folder / Key
        if not path.is_file():
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": Key}}, "GetObject")
        return {"Body": io.BytesIO(path.read_bytes())}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:  # noqa: N803 - boto3's names
        path = self.folder / Key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Body)


def _objects_of_written_events(root: Path, request: dict[str, Any], bucket: Path) -> None:
    """``events/score/three-answers.json`` and ``two-answers-one-failed.json`` are written by hand (the
    integration tests' scenarios), not captured: put what they refer to in ``bucket`` - the validated
    request and every ok model's answer checkpoint - so that they run on their own too."""
    from bakeoff.evaluations import EvaluationStore
    from bakeoff.settings import Settings
    from bakeoff.storage import Store
    from bakeoff_offline.template import read_stack
    from functions.validate.service import accept

    settings = Settings.from_env(read_stack(root).functions["ValidateFunction"].environment)
    store = Store(_FolderS3(bucket), "events-bucket")
    for name in ("three-answers.json", "two-answers-one-failed.json"):
        event = json.loads((root / "events" / "score" / name).read_text())
        accept(
            request,
            evaluation_id=event["evaluationId"],
            created_at="2026-12-01T10:56:12+00:00",
            settings=settings,
            evaluations=EvaluationStore(store),
        )
        for result in event["results"]:
            if result["status"] == "ok":
                text = _SampleBackend(set()).converse(result["modelId"], {})["output"]["message"]["content"][0]["text"]
                store.put_checkpoint(
                    result["answerKey"],
                    {
                        "modelId": result["modelId"],
                        "text": text,
                        "stopReason": result["stopReason"],
                        "usage": result["usage"],
                        "latencyMs": result["latencyMs"],
                    },
                )


def main() -> None:
    root = Path(__file__).resolve().parents[2]
    events = root / "events"
    request = json.loads((events / "statemachine" / "podcast-bedrock.json").read_text())
    bucket = events / "bucket"
    shutil.rmtree(bucket, ignore_errors=True)
    for evaluation_id, fail, scenario in (
        ("sample-0001", set(), "valid"),
        ("sample-0002", {FAILING_MODEL}, "one-model-failed"),
    ):
        captured, _ = _capture(root, request, evaluation_id, fail)
        for function, folder in (
            ("ValidateFunction", "validate"),
            ("InvokeModelFunction", "invoke_model"),
            ("ScoreFunction", "score"),
            ("ReportFunction", "report"),
        ):
            if scenario != "valid" and folder in ("validate", "invoke_model"):
                continue
            target = events / folder / f"{scenario}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(captured["payloads"][function], indent=2) + "\n")
        for key, body in captured["objects"].items():
            path = bucket / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
    _objects_of_written_events(root, request, bucket)
    (bucket / "README.md").write_text(
        "S3 objects that the sample events in `events/<function>/` refer to (made by "
        "`python -m bakeoff_offline.sample_events`).\n\n`bakeoff local invoke` uploads them to its local bucket; "
        "before `sam local invoke` against AWS, copy them to the stack's bucket:\n"
        "`aws s3 sync events/bucket s3://<EvaluationBucketName>/`.\n"
    )
    print(f"wrote events under {events}")


if __name__ == "__main__":
    main()
