"""S3 storage: the evaluation's own objects, and content-addressed checkpoints.

Layout in the bucket::

    evaluations/<evaluationId>/owner.json     the API key that created it (written by the API)
    evaluations/<evaluationId>/request.json   the validated request (every state reads it)
    evaluations/<evaluationId>/scores.json    the judge's verdicts and health (``bakeoff.scores``)
    evaluations/<evaluationId>/items.json     a dataset's items: [{itemId, evaluationId}], the Map's input
    evaluations/<evaluationId>~<itemId>/...   one dataset item, an evaluation of its own (request, scores)
    checkpoints/answers/<sha256>.json          one candidate answer, keyed by what determines it
    checkpoints/verdicts/<sha256>.json         one judge verdict, keyed likewise
    checkpoints/comparisons/<sha256>.json      one pairwise comparison, keyed likewise
    checkpoints/<kind>/keys/<apiKeyId>/...     the same, for an evaluation an API key created: keys
                                               never share cached answers or verdicts
    reports/<evaluationId>/report.json         the report (``bakeoff.report.Report``), and rendered from
    reports/<evaluationId>/report.html,        it the page and the spreadsheet
    reports/<evaluationId>/results.csv
    reports/<evaluationId>/results.jsonl       a dataset's items x models in full (``bakeoff.item_results``)
    reports/index.json, reports/index.html    every evaluation, newest first (``ReportsIndex``)

A checkpoint key is the hash of everything that determines the result, so a Step Functions retry,
a redrive or a rerun of the same request finds it and calls no model. S3 PutObject is atomic (an
object is visible whole or not at all), and each checkpoint carries the hash of its own body, so a
truncated or edited object is detected on read and recomputed rather than trusted.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bakeoff.errors import CheckpointCorruptError, StorageError

CHECKPOINT_SCHEMA = "bakeoff.checkpoint/v1"


# botocore retries a transient S3 failure (500, 503, throttling) inside the call, so that a model's
# answer is never lost - and never paid for twice - because one write failed once.
S3_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=30)


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def evaluation_key(evaluation_id: str, name: str) -> str:
    return f"evaluations/{evaluation_id}/{name}"


def checkpoint_key(kind: str, determinants: dict[str, Any], scope: str | None = None) -> str:
    """Where a checkpoint lives. ``scope`` is the owning API key's ID: one key's run never reads
    another's answers (nor learns, by a cache hit, what another key asked)."""
    folder = f"checkpoints/{kind}/keys/{scope}" if scope else f"checkpoints/{kind}"
    return f"{folder}/{content_hash(determinants)}.json"


class Store:
    """JSON objects in one bucket. S3 errors become ``StorageError`` (the ASL retries it)."""

    IMMUTABLE_CACHE_SIZE = 64

    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self.bucket = bucket
        self._immutable: OrderedDict[str, Any] = OrderedDict()
        self._immutable_lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        try:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"could not write s3://{self.bucket}/{key}: {exc}") from exc

    def put_json(self, key: str, value: Any) -> None:
        body = json.dumps(value, ensure_ascii=False, indent=1).encode()
        self.put_bytes(key, body, "application/json")

    def _get(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag, or None when there is no such key."""
        try:
            found = self._s3.get_object(Bucket=self.bucket, Key=key)
            return found["Body"].read(), found.get("ETag", "")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise StorageError(f"could not read s3://{self.bucket}/{key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not read s3://{self.bucket}/{key}: {exc}") from exc

    def get_bytes(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        found = self._get(key)
        return None if found is None else found[0]

    def get_json_tagged(self, key: str) -> tuple[Any | None, str | None]:
        """The object's JSON and its ETag, for a later ``put_json_if``; ``(None, None)`` when absent."""
        found = self._get(key)
        return (None, None) if found is None else (json.loads(found[0]), found[1])

    def put_json_if(self, key: str, value: Any, *, etag: str | None) -> str | None:
        """Write only if the object is still the version read (``etag``; ``None``: still absent).

        The new ETag, or None when another writer changed the object first (S3 answers 412, or 409
        for two conditional writes at once): read it again and retry. S3 checks the condition and
        writes atomically, so of concurrent read-modify-writes exactly one wins each round.
        """
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        body = json.dumps(value, ensure_ascii=False, indent=1).encode()
        try:
            return self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", **condition
            ).get("ETag", "")
        except ClientError as exc:
            lost = exc.response.get("Error", {}).get("Code") in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
                "NoSuchKey",
            )
            if lost or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (409, 412):
                return None
            raise StorageError(f"could not write s3://{self.bucket}/{key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not write s3://{self.bucket}/{key}: {exc}") from exc

    def get_uri(self, uri: str) -> bytes | None:
        """An object named by ``s3://bucket/key`` (a dataset may live in another bucket)."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            return self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket"):
                return None
            raise StorageError(f"could not read {uri}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not read {uri}: {exc}") from exc

    def get_json(self, key: str) -> Any | None:
        body = self.get_bytes(key)
        return None if body is None else json.loads(body)

    def require_json(self, key: str) -> Any:
        value = self.get_json(key)
        if value is None:
            raise StorageError(f"s3://{self.bucket}/{key} does not exist")
        return value

    def require_immutable_json(self, key: str) -> Any:
        """``require_json`` for an object written once and never changed: read from S3 once per container.

        An evaluation's ``request.json`` is written by Validate before any other state runs, and every
        state of every branch reads it. A warm Lambda container (and offline, where all functions share
        one process) serves the later reads from here: for a 20-item dataset with 3 models offline,
        80 GETs become 20. Keeps the last ``IMMUTABLE_CACHE_SIZE`` objects; callers must not mutate
        the value.
        """
        with self._immutable_lock:
            if key in self._immutable:
                self._immutable.move_to_end(key)
                return self._immutable[key]
            # The three branches of one item start together: one reads, the others wait for it.
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._immutable_lock:
                if key in self._immutable:
                    return self._immutable[key]
            value = self.require_json(key)
            with self._immutable_lock:
                self._immutable[key] = value
                self._loading.pop(key, None)
                while len(self._immutable) > self.IMMUTABLE_CACHE_SIZE:
                    self._immutable.popitem(last=False)
        return value

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"could not list s3://{self.bucket}/{prefix}: {exc}") from exc
        return keys

    # --- checkpoints ---------------------------------------------------------------------

    def put_checkpoint(self, key: str, body: dict[str, Any]) -> None:
        self.put_json(key, {"schema": CHECKPOINT_SCHEMA, "sha256": content_hash(body), "body": body})

    def get_checkpoint(self, key: str) -> dict[str, Any] | None:
        """The checkpointed body, None when absent; ``CheckpointCorruptError`` when it fails its hash."""
        raw = self.get_bytes(key)
        if raw is None:
            return None
        try:
            envelope = json.loads(raw)
            body = envelope["body"]
            ok = envelope.get("schema") == CHECKPOINT_SCHEMA and envelope.get("sha256") == content_hash(body)
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointCorruptError(f"checkpoint {key} is not valid JSON: {exc}", key=key) from exc
        if not ok:
            raise CheckpointCorruptError(f"checkpoint {key} fails its hash check", key=key)
        return body
