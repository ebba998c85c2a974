"""Failing S3 writes at the HTTP boundary: a ``before-send`` hook on a handler's own S3 client answers
with a 500 instead of sending, so botocore's retries and the code's error handling run for real."""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSResponse

ERROR_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
    b"<Message>injected failure</Message></Error>"
)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any):
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body


class FailingPuts:
    """The next ``times`` PutObject calls under ``key_prefix`` answer 500 (``times=None``: all of them)."""

    def __init__(self, client: Any, *, times: int | None, key_prefix: str = "") -> None:
        self.client, self.times, self.key_prefix, self.failed = client, times, key_prefix, 0
        client.meta.events.register_first("before-send.s3.PutObject", self._before_send)

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        if request.method != "PUT" or self.key_prefix not in request.url:
            return None
        if self.times is not None and self.failed >= self.times:
            return None
        self.failed += 1
        return AWSResponse(request.url, 500, {"Content-Type": "application/xml"}, _Raw(ERROR_BODY))

    def clear(self) -> None:
        self.client.meta.events.unregister("before-send.s3.PutObject", self._before_send)


def store_client(stack: Any, function: str) -> Any:
    """The S3 client a loaded handler module writes through."""
    return stack.module(function).store._s3
