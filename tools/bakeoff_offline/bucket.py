"""Create the evaluation bucket offline from its definition in ``template.yaml``, so what runs
locally has the encryption, public-access block, versioning and lifecycle the stack deploys."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from bakeoff_offline.template import ACCOUNT, Stack


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    return out


def provision_bucket(s3: Any, stack: Stack) -> dict[str, Any]:
    """Create ``stack.bucket_name`` with the template's properties; returns those properties."""
    resources = stack.template["Resources"]
    logical_id, resource = next((k, r) for k, r in resources.items() if r["Type"] == "AWS::S3::Bucket")
    props = resource.get("Properties", {})
    s3.create_bucket(Bucket=stack.bucket_name)
    if "BucketEncryption" in props:
        rules = [
            {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
            for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=stack.bucket_name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=stack.bucket_name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=stack.bucket_name, OwnershipControls=props["OwnershipControls"])
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(Bucket=stack.bucket_name, VersioningConfiguration=props["VersioningConfiguration"])
    if "LifecycleConfiguration" in props:
        s3.put_bucket_lifecycle_configuration(
            Bucket=stack.bucket_name,
            LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]},
        )
    # The bucket policy (deny non-TLS) is not applied: moto treats every in-process request as
    # insecure transport and would deny them all. tests/unit/test_template_security.py checks it.
    return props


def _backend() -> Any:
    """moto's in-memory S3 for the offline account: checkpoints are copied in and out through it
    directly, because a boto3 call per object costs ~4 ms of CPU (0.5 s for a 20-item dataset's 120
    checkpoints) and the copy is the stack's own bookkeeping, not something Bakeoff's code does."""
    from moto.s3.models import s3_backends

    return s3_backends[ACCOUNT]["aws"]


def load_objects(bucket: str, folder: Path, prefix: str = "", *, json_only: bool = True) -> int:
    """Put every JSON file (every file: ``json_only=False``) under ``folder/prefix`` into the bucket at its
    path relative to ``folder``: the checkpoints of an earlier run, a served stack's state, or
    ``events/bucket/`` (the objects the sample events of later states refer to). Returns the count."""
    backend = _backend()
    count = 0
    root = folder / prefix
    wanted = (lambda p: p.suffix == ".json") if json_only else (lambda p: not p.name.endswith(".partial"))
    for path in sorted(p for p in root.rglob("*") if p.is_file() and wanted(p)) if root.is_dir() else []:
        backend.put_object(bucket, path.relative_to(folder).as_posix(), path.read_bytes())
        count += 1
    return count


def save_objects(bucket: str, folder: Path, prefix: str) -> int:
    """Write every object under ``prefix`` to ``folder`` at its key (a temp file, then a rename), unless
    the file already holds the same bytes; returns how many were written."""
    count = 0
    keys = _backend().get_bucket(bucket).keys
    for key in [k for k in list(keys) if k.startswith(prefix)]:
        body = keys[key].value
        target = folder / key
        if target.exists() and target.read_bytes() == body:
            continue
        # A differing file on disk was corrupt (the run recomputed it): replace it.
        _write_file(target, body)
        count += 1
    return count


def _write_file(target: Path, body: bytes) -> None:
    """A temp file, then a rename: a killed process leaves the old file or the new one, never half of one.
    No fsync (it would cost every checkpoint a disk flush): what the kernel has survives the process, and a
    file a power cut leaves damaged is a corrupt checkpoint, which is recomputed, never trusted."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".{threading.get_ident()}.partial")
    partial.write_bytes(body)
    partial.replace(target)


class WriteThrough:
    """Every PutObject under ``prefix`` that the bucket accepted is also written to ``folder`` before the
    S3 call returns to its caller: a handler that checkpoints a paid answer has it on disk when its put
    returns, so killing the process (SIGKILL included) at any later instant loses none of it.

    Hooked on botocore's events of boto3's default session (a public API, no moto internals): every client
    created from it afterwards, the handlers' included, carries the hook. One instance per process;
    ``folder`` is whichever stack is running now (None: no write-through)."""

    _installed: WriteThrough | None = None

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.bucket: str | None = None
        self.prefix = "checkpoints/"  # "" for everything (a served stack's state)

    @classmethod
    def install(cls) -> WriteThrough:
        """The process's instance, hooked on boto3's default session as it is now (moto's mock may have
        replaced the session since the last stack: each stack's handlers make their clients from it)."""
        import boto3

        hook = cls._installed = cls._installed or cls()
        events = boto3._get_default_session().events  # noqa: SLF001 - the session boto3.client() uses
        # unique_id makes registering twice on one session a no-op.
        events.register("before-parameter-build.s3.PutObject", hook._before, unique_id="bakeoff-write-through-1")
        events.register("after-call.s3.PutObject", hook._after, unique_id="bakeoff-write-through-2")
        return hook

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if (
            self.folder is not None
            and params.get("Bucket") == self.bucket
            and str(params.get("Key", "")).startswith(self.prefix)
        ):
            context["bakeoff_write_through"] = (self.folder, self.bucket, params["Key"])

    def _after(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        pending = context.pop("bakeoff_write_through", None)
        if pending is None or http_response.status_code != 200:
            return
        folder, bucket, key = pending
        # What the bucket now holds under the key (in this process, moto's memory): the stored bytes.
        _write_file(folder / key, _backend().get_bucket(bucket).keys[key].value)
