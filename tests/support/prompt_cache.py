"""A Converse endpoint that bills prompt caching the way Bedrock does, for tests at the network boundary.

Bedrock caches the prompt prefix before a ``cachePoint`` (tools, then system, then messages). A request whose
prefix is in the cache reports it as ``cacheReadInputTokens``, otherwise as ``cacheWriteInputTokens``; either
way ``inputTokens`` counts only the rest, and ``totalTokens`` all of them. An entry serves other calls only once
the call that writes it has answered (Bedrock: after the first response begins), so calls that start together
all write. Tokens are counted as one per four characters: a stand-in tokenizer, the same for every call.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from converse_local import wire


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _split(request: dict[str, Any]) -> tuple[str, str] | None:
    """(text before the last cachePoint, text after it), tools and system first; None without a cachePoint."""
    head = [json.dumps(request.get("toolConfig") or {}, sort_keys=True)]
    head += [block.get("text", "") for block in request.get("system") or []]
    blocks = [block for message in request["messages"] for block in message["content"]]
    points = [i for i, block in enumerate(blocks) if "cachePoint" in block]
    if not points:
        return None
    cut = points[-1]
    return (
        "".join(head) + "".join(b.get("text", "") for b in blocks[:cut]),
        "".join(b.get("text", "") for b in blocks[cut + 1 :]),
    )


class CachingEndpoint:
    """Wraps a responder (which builds the reply body): fixes the reply's usage as Bedrock reports it with
    prompt caching, and records every call's usage in ``calls``."""

    def __init__(self, responder: Callable[[str, dict], dict], *, delay: float = 0.0) -> None:
        self.responder = responder
        self.delay = delay  # seconds each call takes, so that calls started together overlap
        self.calls: list[dict[str, int]] = []
        self._cache: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, model_id: str, request: dict) -> dict:
        reply = self.responder(model_id, request)
        split = _split(request)
        everything = (
            json.dumps(request.get("toolConfig") or {}, sort_keys=True)
            + "".join(b.get("text", "") for b in request.get("system") or [])
            + "".join(b.get("text", "") for m in request["messages"] for b in m["content"])
        )
        output = reply["usage"]["outputTokens"]
        if split is None:
            usage = wire._usage(tokens(everything), output)
        else:
            prefix, rest = split
            key = hashlib.sha256(f"{model_id}\n{prefix}".encode()).hexdigest()
            with self._lock:
                hit = key in self._cache
            usage = wire._usage(tokens(rest), output, (tokens(prefix), 0) if hit else (0, tokens(prefix)))
            time.sleep(self.delay)
            with self._lock:
                self._cache.add(key)  # readable by calls that start after this one answered
        reply["usage"] = usage
        with self._lock:
            self.calls.append(usage)
        return reply
