"""A scripted Converse backend and helpers to serve it, for tests at the model-network boundary.

def answer(model_id, request):
    return wire.text_response("7", input_tokens=10, output_tokens=1)

with converse_server(answer) as server:
    client = bedrock_client(server.url)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import boto3
from botocore.config import Config

from converse_local import wire
from converse_local.faults import Fault
from converse_local.server import ConverseServer

Responder = Callable[[str, dict], dict]


class ScriptedBackend:
    """Answers every call with `responder(model_id, request)`, which returns a Converse body
    (`wire.text_response` / `wire.tool_response`) or raises `wire.ConverseError`. With `model_ids`
    given, other IDs get Bedrock's invalid-model ValidationException; without, any ID is accepted."""

    def __init__(self, responder: Responder, model_ids: Sequence[str] | None = None) -> None:
        self._responder = responder
        self._model_ids = list(model_ids) if model_ids is not None else None

    def model_ids(self) -> list[str]:
        return list(self._model_ids or [])

    def converse(self, model_id: str, request: dict) -> dict:
        if self._model_ids is not None and model_id not in self._model_ids:
            raise wire.invalid_model_error(model_id)
        return self._responder(model_id, request)


@contextmanager
def converse_server(
    responder: Responder,
    *,
    model_ids: Sequence[str] | None = None,
    faults: dict[str, Fault] | None = None,
) -> Iterator[ConverseServer]:
    """A started ConverseServer around a ScriptedBackend, stopped when the block ends."""
    with ConverseServer(ScriptedBackend(responder, model_ids)) as server:
        for model_id, fault in (faults or {}).items():
            server.set_fault(model_id, fault)
        yield server


def bedrock_client(url: str, *, attempts: int = 1, read_timeout: float = 30, connect_timeout: float = 5):
    """A real boto3 bedrock-runtime client aimed at `url`. `attempts` counts the first try, so the
    default of 1 means botocore does not retry: each call is one request and errors surface as sent."""
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            read_timeout=read_timeout,
            connect_timeout=connect_timeout,
        ),
    )
