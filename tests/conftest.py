"""Shared fixtures: the repo's paths, its sample events, and an offline stack wired to a scripted
Converse endpoint (the network boundary; everything behind it is the real code)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bakeoff_offline.stack import OfflineStack
from converse_local.faults import Fault
from tests.support.converse_fakes import Responder, converse_server, good_responder

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"


def load_event(relative: str) -> Any:
    return json.loads((EVENTS / relative).read_text(encoding="utf-8"))


@pytest.fixture
def bedrock_request() -> dict[str, Any]:
    """The sample request for Bedrock models (three candidates, a judge of another family)."""
    return load_event("statemachine/podcast-bedrock.json")


@contextmanager
def offline(
    responder: Responder | None = None,
    *,
    faults: dict[str, Fault] | None = None,
    env: dict[str, str] | None = None,
    parameters: dict[str, Any] | None = None,
    retry_time_scale: float = 0.01,
    checkpoint_dir: Path | None = None,
) -> Iterator[tuple[OfflineStack, Any]]:
    """The real ASL and handlers under moto, models behind a scripted Converse server."""
    with (
        converse_server(responder or good_responder(), faults=faults) as server,
        OfflineStack(
            ROOT,
            env={"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url, **(env or {})},
            parameters=parameters,
            retry_time_scale=retry_time_scale,
            checkpoint_dir=checkpoint_dir,
        ) as stack,
    ):
        yield stack, server


@pytest.fixture
def offline_stack() -> Callable[..., Any]:
    return offline
