"""Helpers of the API tests: the bad-input corpus, the scripted models at the Converse boundary, API
keys, a small HTTP client. The fixtures that start the offline stack are in conftest.py."""

from __future__ import annotations

import base64
import copy
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeoff_offline.local_api import KeyPolicy
from bakeoff_offline.stack import OfflineStack
from tests.support.converse_fakes import ScriptedModels, answer, verdict

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus"
API_KEY = "test-key-0123456789abcdef"
OTHER_KEY = "other-key-0123456789abcdef"


# --- the corpus --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    body: bytes
    field: str
    gateway: str  # "reject": the draft-4 model refuses it; "pass": only the API function can
    handler_field: str
    pydantic_lax: bool  # pydantic's lax mode accepts it; only the gateway's schema refuses it

    def value(self) -> Any:
        """The parsed body (for cases that parse at all)."""
        return json.loads(self.body)


def base_request() -> dict[str, Any]:
    return json.loads((CORPUS / "_base.json").read_text(encoding="utf-8"))


def _expand(value: Any) -> Any:
    if isinstance(value, dict) and "$repeat" in value:
        return value["$repeat"] * value["times"]
    if isinstance(value, dict) and "$nest" in value:
        out: Any = value["leaf"]
        for _ in range(value["$nest"]):
            out = [out]
        return out
    return value


def _body(spec: dict[str, Any]) -> bytes:
    if "raw" in spec:
        raw = spec["raw"]
        if "text" in raw:
            return raw["text"].encode()
        if "base64" in raw:
            return base64.b64decode(raw["base64"])
        request = base_request()
        if "deepArray" in raw:
            request[raw["inField"]] = "@@DEEP@@"
            depth = raw["deepArray"]
            return json.dumps(request).replace('"@@DEEP@@"', "[" * depth + "]" * depth).encode()
        if "insertAfterBrace" in raw:
            return ("{" + raw["insertAfterBrace"] + json.dumps(request)[1:]).encode()
        raise ValueError(f"unknown raw body spec {raw}")
    request = copy.deepcopy(base_request())
    for name in spec["request"].get("delete", []):
        request.pop(name, None)
    for name, value in spec["request"].get("set", {}).items():
        request[name] = _expand(value)
    return json.dumps(request).encode()


def load_corpus() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.json")):
        if path.name.startswith("_"):
            continue
        spec = json.loads(path.read_text(encoding="utf-8"))
        expect = spec["expect"]
        cases.append(
            Case(
                name=path.stem,
                description=spec["description"],
                body=_body(spec),
                field=expect["field"],
                gateway=expect["gateway"],
                handler_field=expect.get("handlerField", expect["field"]),
                pydantic_lax=bool(expect.get("pydanticLax", False)),
            )
        )
    return cases


def names_field(errors: list[dict[str, str]], field: str) -> bool:
    """Some error is about ``field`` (or something inside it: ``models[0]``, ``scoringCriteria.x.weight``)."""
    return any(e["field"] == field or e["field"].startswith((field + ".", field + "[")) for e in errors)


# --- the Converse boundary ---------------------------------------------------------------------


FAILING_MODEL = "meta.llama3-70b-instruct-v1:0"
NO_ACCESS = "You don't have access to the model"
# The candidates that answered, so the judge can tell their text from the corrupted control copy.
ANSWERED: set[str] = set()


def summary(model_id: str, request: dict[str, Any]) -> dict[str, Any]:
    ANSWERED.add(model_id)
    return answer(f"A summary from {model_id}.", input_tokens=200, output_tokens=40)


def sevens(model_id: str, request: dict[str, Any]) -> dict[str, Any]:
    """A blind judge: 7 for everything, the corrupted control copy included (its health check fails)."""
    return verdict(
        request,
        7,
        reason="scripted",
        evidence=["Sunday visits could reach 300 a week"],
        input_tokens=400,
        output_tokens=60,
    )


def healthy(model_id: str, request: dict[str, Any]) -> dict[str, Any]:
    """A healthy judge: 7 for what a candidate wrote, 4 for an answer none wrote (the control copy)."""
    sent = json.dumps(request)
    written = any(json.dumps(f"A summary from {m}.")[1:-1] in sent for m in ANSWERED)
    return verdict(
        request,
        7 if written else 4,
        reason="scripted",
        evidence=["Sunday visits could reach 300 a week"],
        input_tokens=400,
        output_tokens=60,
    )


def scripted_models() -> ScriptedModels:
    """The API tests' models: every candidate answers, a healthy judge gives 7s; tests change a rule for a
    while (``models.judge = throttled()``) and the ``_reset_script`` fixture puts these back."""
    return ScriptedModels(candidate=summary, judge=healthy)


def converse_calls(server: Any) -> int:
    return sum(server.calls.values())


# --- the offline stack and the local API -------------------------------------------------------


def key(
    value: str = API_KEY, name: str = "ci", *, rate: float = 1000, burst: int = 1000, quota: int | None = None
) -> KeyPolicy:
    return KeyPolicy(name=name, value=value, rate_limit=rate, burst_limit=burst, quota_limit=quota)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    *,
    api_key: str | None = API_KEY,
    headers: dict[str, str] | None = None,
) -> Reply:
    sent = {"content-type": "application/json"} | (headers or {})
    if api_key is not None:
        sent["x-api-key"] = api_key
    req = urllib.request.Request(url, data=body, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


def executions(offline: OfflineStack) -> int:
    return len(offline.sfn.list_executions(stateMachineArn=offline.state_machine_arn)["executions"])


def post(api: Any, request: Any, **kwargs: Any) -> Reply:
    return http("POST", api.url + "/evaluations", json.dumps(request).encode(), **kwargs)


def wait_done(status_url: str, timeout: float = 60, *, api_key: str = API_KEY) -> dict[str, Any]:
    """The evaluation's status once it is no longer RUNNING (asked with ``api_key``, its owner)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = http("GET", status_url, api_key=api_key)
        assert reply.status == 200, reply.body
        body = reply.json()
        if body["status"] != "RUNNING" or time.monotonic() > deadline:
            return body
        time.sleep(0.1)
