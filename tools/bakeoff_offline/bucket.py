"""Create the evaluation bucket offline from its definition in ``template.yaml``, so what runs
locally has the encryption, public-access block, versioning and lifecycle the stack deploys."""

from __future__ import annotations

from typing import Any

from bakeoff_offline.template import Stack


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])}
    return out


def provision_bucket(s3: Any, stack: Stack) -> dict[str, Any]:
    """Create ``stack.bucket_name`` with the template's properties; returns those properties."""
    resources = stack.template["Resources"]
    logical_id, resource = next((k, r) for k, r in resources.items() if r["Type"] == "AWS::S3::Bucket")
    props = resource.get("Properties", {})
    s3.create_bucket(Bucket=stack.bucket_name)
    if "BucketEncryption" in props:
        rules = [{"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                 for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]]
        s3.put_bucket_encryption(Bucket=stack.bucket_name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=stack.bucket_name,
                                   PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=stack.bucket_name, OwnershipControls=props["OwnershipControls"])
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(Bucket=stack.bucket_name, VersioningConfiguration=props["VersioningConfiguration"])
    if "LifecycleConfiguration" in props:
        s3.put_bucket_lifecycle_configuration(
            Bucket=stack.bucket_name,
            LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]})
    # The bucket policy (deny non-TLS) is not applied: moto treats every in-process request as
    # insecure transport and would deny them all. tests/unit/test_template_security.py checks it.
    return props


def seed_bucket(s3: Any, bucket: str, folder: Any) -> int:
    """Upload every file under ``folder`` (``events/bucket/``) at its relative path: the objects the
    sample events of later states refer to. Returns how many were uploaded."""
    count = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix == ".json"):
        s3.put_object(Bucket=bucket, Key=path.relative_to(folder).as_posix(), Body=path.read_bytes())
        count += 1
    return count
