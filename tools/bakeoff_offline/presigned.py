"""Checking an S3 presigned GET URL (Signature Version 4, query-string auth) as S3 itself does.

The local API's ``/_s3/`` relay stands in for S3's endpoint, and moto checks no signature: without this
check, any URL of the right shape would read any object in the bucket (an evaluation's request, another
key's checkpoints). Here the signature is recomputed with the offline stack's credentials, so only URLs
the API function signed (reports, for their owner) are served, and only unchanged and unexpired.

The algorithm is AWS's, as botocore's ``S3SigV4QueryAuth`` signs: canonical request (method, path,
sorted query without the signature, the ``host`` header, ``UNSIGNED-PAYLOAD``), string to sign, and
an HMAC-SHA256 key derived from the secret, the date, the region and the service.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_EXPIRES_SECONDS = 7 * 24 * 3600  # S3's own limit for a SigV4 presigned URL


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _signature(secret_key: str, date: str, region: str, service: str, string_to_sign: str) -> str:
    key = _hmac(f"AWS4{secret_key}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def refusal(
    method: str, hosts: list[str], raw_path: str, raw_query: str, credentials: Credentials, now: datetime | None = None
) -> str | None:
    """None when ``method raw_path?raw_query`` is a valid, unexpired URL presigned by ``credentials``
    for one of ``hosts``; otherwise S3's reason for refusing it.

    ``raw_path`` is the path as sent (still percent-encoded); ``raw_query`` the query string as sent.
    """
    params = parse_qsl(raw_query, keep_blank_values=True)
    given = dict(params)
    if len(given) != len(params):
        return "a query parameter is repeated"
    needed = (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    )
    if any(name not in given for name in needed):
        return "Only presigned URLs are served here"
    if given["X-Amz-Algorithm"] != ALGORITHM or given["X-Amz-SignedHeaders"] != "host":
        return "unsupported signing algorithm or signed headers"
    access_key, _, scope = given["X-Amz-Credential"].partition("/")
    date, region, service, terminal = (scope.split("/") + ["", "", "", ""])[:4]
    if access_key != credentials.access_key or service != "s3" or terminal != "aws4_request":
        return "The AWS Access Key Id you provided does not exist in our records."
    try:
        signed_at = datetime.strptime(given["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        expires = int(given["X-Amz-Expires"])
    except ValueError:
        return "X-Amz-Date or X-Amz-Expires is malformed"
    if not 1 <= expires <= MAX_EXPIRES_SECONDS or signed_at.strftime("%Y%m%d") != date:
        return "X-Amz-Date or X-Amz-Expires is malformed"
    if (now or datetime.now(UTC)) > signed_at + timedelta(seconds=expires):
        return "Request has expired"
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params) if k != "X-Amz-Signature"
    )
    for host in hosts:
        canonical = "\n".join([method, raw_path, query, f"host:{host}", "", "host", "UNSIGNED-PAYLOAD"])
        to_sign = "\n".join([ALGORITHM, given["X-Amz-Date"], scope, hashlib.sha256(canonical.encode()).hexdigest()])
        expected = _signature(credentials.secret_key, date, region, service, to_sign)
        if hmac.compare_digest(expected, given["X-Amz-Signature"]):
            return None
    return "The request signature we calculated does not match the signature you provided."
