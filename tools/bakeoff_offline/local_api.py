"""The HTTP API offline: what API Gateway does in front of the API function, then the real function.

``LocalApi`` reads its routes, API-key requirements, usage-plan defaults and request model from
``template.yaml`` and serves them on 127.0.0.1:

1. route: a method and path the template does not declare answers ``403 Missing Authentication
   Token``, as API Gateway does;
2. API key (``x-api-key``): missing or unknown answers ``403 Forbidden``;
3. usage plan, per key: a token bucket (rate, burst) answers ``429 Too Many Requests`` and a quota
   per DAY/WEEK/MONTH (UTC calendar windows) answers ``429 Limit Exceeded``, both with ``Retry-After``
   in seconds (computed here; the deployed API sends the fixed values set in ``GatewayResponses``);
4. payload: over 10 MiB answers ``413``, as API Gateway's payload limit;
5. request validator: the body is checked against the template's draft-4 model with ``jsonschema``
   and refused with ``400`` before the function runs. The deployed validator is API Gateway's own
   implementation: it refuses the same bodies, but names the problems in one string
   (``$context.error.validationErrorString``) where this one lists them field by field;
6. the API function, invoked with an API Gateway REST proxy event (payload format 1.0) and a Lambda
   context; an exception or a malformed result answers ``502``, as API Gateway does.

Presigned report URLs name ``<bucket>.s3.amazonaws.com``, which offline is moto inside this process
and reachable from nowhere else. So this server also stands in for S3's endpoint: it rewrites those
URLs in the function's responses to ``<this server>/_s3/<bucket>/<key>?<the same signed query>`` and
serves each such GET from moto's S3 only when its SigV4 signature is the one the stack's credentials
give for that very URL and it has not expired (``presigned.refusal``; moto checks no signature, so this
relay must). No API key is needed there, as none is for a presigned URL; a URL the API did not sign
(``evaluations/<id>/request.json``, another key's checkpoints) is refused with 403.

Each key has an ID, as API Gateway gives it (``requestContext.identity.apiKeyId``): derived from the
key's value, so it stays the same across restarts. The API function records it as the owner of every
evaluation the key creates and answers no other key about it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bakeoff_offline.lambda_api import LambdaContext
from bakeoff_offline.loopback import LoopbackServer
from bakeoff_offline.presigned import Credentials, refusal
from bakeoff_offline.template import ACCOUNT, REGION, Stack

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway REST APIs: 10 MB
QUOTA_PERIODS = ("DAY", "WEEK", "MONTH")
_S3_URL = re.compile(r"https://(?P<bucket>[a-z0-9][a-z0-9.-]*)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com/")

Handler = Callable[[Any, Any], Any]


# --- configuration: keys and their usage plan --------------------------------------------------


@dataclass(frozen=True)
class KeyPolicy:
    """One API key and its usage plan (the template's defaults unless the config file says otherwise)."""

    name: str
    value: str
    rate_limit: float
    burst_limit: int
    quota_limit: int | None
    quota_period: str = "DAY"

    def __post_init__(self) -> None:
        if len(self.value) < 20:
            # API Gateway's own minimum for an imported key value. Name what the user typed (a key from
            # --api-key has only a generated name) without echoing a secret in full.
            shown = self.value if len(self.value) <= 4 else self.value[:2] + "…"
            raise ValueError(
                f"API key {self.name!r} ({shown!r}, {len(self.value)} characters) is too short: API Gateway "
                'keys need at least 20 characters, e.g. --api-key "$(openssl rand -hex 16)"'
            )
        if self.rate_limit <= 0 or self.burst_limit < 1:
            raise ValueError(f"API key {self.name!r}: rateLimit must be > 0 and burstLimit >= 1")
        if self.quota_period not in QUOTA_PERIODS:
            raise ValueError(f"API key {self.name!r}: quota period must be one of {', '.join(QUOTA_PERIODS)}")

    @property
    def key_id(self) -> str:
        """The key's ID, shaped like API Gateway's (10 lowercase letters and digits); never the key."""
        digest = base64.b32encode(hashlib.sha256(self.value.encode()).digest()).decode().lower()
        return digest[:10]


@dataclass
class GatewayConfig:
    keys: list[KeyPolicy]
    validate_body: bool = True
    max_payload_bytes: int = MAX_PAYLOAD_BYTES

    def find(self, value: str | None) -> KeyPolicy | None:
        return next((k for k in self.keys if value and k.value == value), None)


def usage_plan_defaults(stack: Stack) -> dict[str, Any]:
    """Throttle and quota of the template's usage plan, parameters resolved."""
    for resource in stack.template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Api":
            continue
        plan = resource["Properties"].get("Auth", {}).get("UsagePlan", {})
        throttle, quota = plan.get("Throttle", {}), plan.get("Quota", {})
        return {
            "rateLimit": float(stack.resolve(throttle.get("RateLimit", 10))),
            "burstLimit": int(stack.resolve(throttle.get("BurstLimit", 20))),
            "quota": (
                {"limit": int(stack.resolve(quota["Limit"])), "period": str(stack.resolve(quota.get("Period", "DAY")))}
                if quota
                else None
            ),
        }
    raise ValueError("template.yaml has no AWS::Serverless::Api")


def load_config(stack: Stack, *, api_keys: list[str], config_file: Path | None = None) -> GatewayConfig:
    """Keys from ``--api-key`` (the template's usage plan) and from a JSON file, which may override it::

    {"defaults": {"rateLimit": 1, "burstLimit": 5, "quota": {"limit": 1000, "period": "DAY"}},
     "keys": [{"name": "ci", "value": "<at least 20 characters>", "rateLimit": 2}],
     "validateBody": true}
    """
    file: dict[str, Any] = json.loads(config_file.read_text(encoding="utf-8")) if config_file else {}
    defaults = usage_plan_defaults(stack) | file.get("defaults", {})

    def policy(entry: dict[str, Any], index: int) -> KeyPolicy:
        spec = defaults | entry
        quota = spec.get("quota")
        return KeyPolicy(
            name=str(spec.get("name") or f"key{index + 1}"),
            value=str(spec["value"]),
            rate_limit=float(spec["rateLimit"]),
            burst_limit=int(spec["burstLimit"]),
            quota_limit=int(quota["limit"]) if quota else None,
            quota_period=str(quota.get("period", "DAY")) if quota else "DAY",
        )

    entries = [{"value": v} for v in api_keys] + list(file.get("keys", []))
    keys = [policy(entry, i) for i, entry in enumerate(entries)]
    if not keys:
        raise ValueError(
            "no API key configured (give --api-key KEY or a --config file with keys): the API does not run open"
        )
    if len({k.value for k in keys}) != len(keys):
        raise ValueError("the same API key value is configured twice")
    return GatewayConfig(keys=keys, validate_body=bool(file.get("validateBody", True)))


# --- the usage plan ----------------------------------------------------------------------------


class TokenBucket:
    """API Gateway's throttle: ``burst`` tokens, refilled at ``rate`` per second; one per request."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self.tokens, self._updated = float(burst), clock()

    def take(self) -> float:
        """0 when a token was taken; otherwise the seconds until one will be there."""
        now = self._clock()
        self.tokens = min(self.burst, self.tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def quota_window(period: str, now: datetime) -> tuple[datetime, datetime]:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "DAY":
        return day, day + timedelta(days=1)
    if period == "WEEK":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    start = day.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)


class UsagePlan:
    """Throttle and quota state for every key; thread-safe."""

    def __init__(
        self,
        config: GatewayConfig,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._buckets = {k.value: TokenBucket(k.rate_limit, k.burst_limit, clock) for k in config.keys}
        self._used: dict[tuple[str, datetime], int] = {}
        self._wall = wall
        self._lock = threading.Lock()

    def admit(self, key: KeyPolicy) -> tuple[str, int] | None:
        """None to let the request through; else (``throttled`` | ``quota``, Retry-After seconds)."""
        with self._lock:
            wait = self._buckets[key.value].take()
            if wait > 0:
                return "throttled", max(1, math.ceil(wait))
            if key.quota_limit is not None:
                now = self._wall()
                start, end = quota_window(key.quota_period, now)
                used = self._used.get((key.value, start), 0)
                if used >= key.quota_limit:
                    return "quota", max(1, math.ceil((end - now).total_seconds()))
                self._used[(key.value, start)] = used + 1
            return None


# --- the request validator ---------------------------------------------------------------------


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _join(base: str, name: str) -> str:
    return f"{base}.{name}" if base else name


# JSON-schema size rule -> how its message reads: "at most 5 items (got 6)".
_SIZE_RULES = {
    "maxLength": ("at most", "characters"),
    "minLength": ("at least", "characters"),
    "maxItems": ("at most", "items"),
    "minItems": ("at least", "items"),
    "maxProperties": ("at most", "entries"),
    "minProperties": ("at least", "entries"),
}


def _message(error: Any) -> str:
    """A message that never quotes the offending value (it may be 10 MB, or someone's injection)."""
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {wanted}, got {type(value).__name__ if value is not None else 'null'}"
    if kind in _SIZE_RULES:
        bound, unit = _SIZE_RULES[kind]
        return f"{bound} {expected} {unit} (got {len(value)})"
    if kind == "uniqueItems":
        return "items must be unique"
    if kind == "minimum":
        exclusive = error.schema.get("exclusiveMinimum")
        return f"must be {'greater than' if exclusive else 'at least'} {expected}"
    if kind == "maximum":
        return f"must be at most {expected}"
    if kind == "pattern":
        return f"must match {expected}"
    if kind == "enum":
        return f"must be one of {', '.join(map(str, expected))}"
    if kind == "anyOf" and all("required" in branch for branch in expected):
        names = [" and ".join(branch["required"]) for branch in expected]
        return f"give one of: {', '.join(names)}"
    return f"fails the schema's {kind!r} rule"


def schema_errors(validator: Any, value: Any) -> list[dict[str, str]]:
    """Every problem the draft-4 model finds, as ``{field, message}`` in ``bakeoff.validation``'s style."""
    out: list[dict[str, str]] = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        base = _path(error.absolute_path)
        if error.validator == "required":
            for name in error.validator_value:
                if isinstance(error.instance, dict) and name not in error.instance:
                    out.append({"field": _join(base, name), "message": "field required"})
        elif error.validator == "additionalProperties":
            known = set(error.schema.get("properties", {}))
            patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
            for name in error.instance:
                if name not in known and not any(p.search(name) for p in patterns):
                    hint = (
                        "unknown field (check its spelling; fields are camelCase)"
                        if not patterns
                        else "not a valid name here"
                    )
                    out.append({"field": _join(base, str(name)), "message": hint})
        else:
            out.append({"field": base or "(body)", "message": _message(error)})
    # jsonschema reports a "required" failure once per missing name, each listing them all.
    unique = {(e["field"], e["message"]): e for e in out}
    return list(unique.values())


def _bad_body(message: str) -> list[dict[str, str]]:
    return [{"field": "(body)", "message": message}]


def parse_and_validate(body: bytes, validator: Any) -> list[dict[str, str]]:
    """What the gateway's validator does with a JSON body; [] when it passes."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _bad_body(f"the body is not valid UTF-8 (byte {exc.start})")
    if not text.strip():
        return _bad_body("the body is empty; expected a JSON object")
    try:
        value = json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    except RecursionError:
        return _bad_body("the JSON is nested too deeply")
    except ValueError as exc:
        return _bad_body(f"the body is not valid JSON: {exc}"[:300])
    return schema_errors(validator, value)


# --- routes from the template ------------------------------------------------------------------


@dataclass
class Route:
    method: str
    path: str  # /evaluations/{evaluationId}
    function: str
    api_key_required: bool
    model: dict[str, Any] | None = None
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        self.pattern = re.compile(f"^{regex}$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path) if method == self.method else None
        return {k: unquote(v) for k, v in found.groupdict().items()} if found else None


def routes_from_template(stack: Stack) -> list[Route]:
    apis = {
        name: r["Properties"]
        for name, r in stack.template["Resources"].items()
        if r.get("Type") == "AWS::Serverless::Api"
    }
    routes: list[Route] = []
    for name, resource in stack.template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") != "Api":
                continue
            props = event["Properties"]
            api = apis[props["RestApiId"]["Ref"]]
            auth = props.get("Auth", {})
            required = auth.get("ApiKeyRequired", api.get("Auth", {}).get("ApiKeyRequired", False))
            request_model = props.get("RequestModel")
            model = None
            if request_model and request_model.get("ValidateBody", True):
                model = api["Models"][request_model["Model"]]
            routes.append(Route(props["Method"].upper(), props["Path"], name, bool(required), model))
    return routes


# --- the server --------------------------------------------------------------------------------


@dataclass
class AccessLogLine:
    method: str
    path: str
    status: int
    key_name: str | None
    gateway_error: str | None
    seconds: float


class LocalApi(LoopbackServer):
    """API Gateway in front of the API function, offline. ``functions`` maps logical ID → handler."""

    def __init__(
        self,
        stack: Stack,
        functions: dict[str, Handler],
        config: GatewayConfig,
        *,
        s3: Any,
        credentials: Credentials,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        from jsonschema import Draft4Validator

        self.stack = stack
        self.functions = functions
        self.config = config
        self.routes = routes_from_template(stack)
        self.usage = UsagePlan(config)
        self.s3 = s3
        self.credentials = credentials  # what the API function signs report URLs with
        self.validators = {id(r): Draft4Validator(r.model) for r in self.routes if r.model is not None}
        self.lambda_invocations = 0
        self.on_access: list[Callable[[AccessLogLine], None]] = []
        self._lock = threading.Lock()
        api = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

        for verb in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):  # http.server's do_<VERB> methods
            setattr(_Handler, f"do_{verb}", lambda handler, verb=verb: api._serve(handler, verb))
        self._listen(_Handler, host, port, "local-api")

    @classmethod
    def for_offline_stack(
        cls, offline: Any, config: GatewayConfig, *, host: str = "127.0.0.1", port: int = 0
    ) -> LocalApi:
        """In front of a started ``OfflineStack``: its handlers (imported with their template
        environment) behind the gateway, its moto S3 behind the presigned-URL relay, which checks
        signatures with the credentials the stack gives every function."""
        import boto3

        frozen = boto3.Session().get_credentials().get_frozen_credentials()
        functions = {name: fn.handler for name, fn in offline.lambda_server.functions.items()}
        return cls(
            offline.stack,
            functions,
            config,
            s3=offline.s3,
            host=host,
            port=port,
            credentials=Credentials(frozen.access_key, frozen.secret_key),
        )

    # --- one request ------------------------------------------------------------------------

    def _serve(self, http: BaseHTTPRequestHandler, method: str) -> None:
        started = time.perf_counter()
        status, headers, body, key, gateway_error = self._answer(http, method)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        http.send_response(status)
        headers = {"Content-Type": "application/json"} | headers
        headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers.items():
            http.send_header(name, value)
        http.send_header("Content-Length", str(len(data)))
        if status == 413:
            http.send_header("Connection", "close")
            http.close_connection = True
        http.end_headers()
        if method != "HEAD":
            http.wfile.write(data)
        line = AccessLogLine(
            method,
            urlsplit(http.path).path,
            status,
            key.name if key else None,
            gateway_error,
            time.perf_counter() - started,
        )
        for listener in self.on_access:
            listener(line)

    def _gateway(
        self,
        status: int,
        message: str,
        error_type: str,
        response_type: str,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, str]] | None = None,
        key: KeyPolicy | None = None,
    ) -> tuple[int, dict[str, str], Any, KeyPolicy | None, str]:
        body: dict[str, Any] = {"message": message}
        if errors is not None:
            body["errors"] = errors
        return status, {"x-amzn-ErrorType": error_type} | (headers or {}), body, key, response_type

    def _answer(
        self, http: BaseHTTPRequestHandler, method: str
    ) -> tuple[int, dict[str, str], Any, KeyPolicy | None, str | None]:
        split = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        if length > self.config.max_payload_bytes:
            # Drain what is reasonable so the client reads the 413 instead of a broken pipe.
            remaining = length if length <= 4 * self.config.max_payload_bytes else 0
            while remaining > 0:
                remaining -= len(http.rfile.read(min(remaining, 1 << 20)) or b"") or remaining
            return self._gateway(413, "Request Too Long", "RequestTooLongException", "REQUEST_TOO_LARGE")
        body = http.rfile.read(length) if length else b""

        if method == "GET" and split.path.startswith("/_s3/"):
            return self._s3_object(split.path, split.query)

        matches = ((r, p) for r in self.routes if (p := r.match(method, split.path)) is not None)
        route, path_parameters = next(matches, (None, None))
        if route is None:
            return self._gateway(
                403,
                "Missing Authentication Token",
                "MissingAuthenticationTokenException",
                "MISSING_AUTHENTICATION_TOKEN",
            )
        key = self.config.find(http.headers.get("x-api-key"))
        if route.api_key_required:
            if key is None:
                return self._gateway(403, "Forbidden", "ForbiddenException", "INVALID_API_KEY")
            refused = self.usage.admit(key)
            if refused and refused[0] == "throttled":
                return self._gateway(
                    429,
                    "Too Many Requests",
                    "TooManyRequestsException",
                    "THROTTLED",
                    {"Retry-After": str(refused[1])},
                    key=key,
                )
            if refused:
                return self._gateway(
                    429,
                    "Limit Exceeded",
                    "LimitExceededException",
                    "QUOTA_EXCEEDED",
                    {"Retry-After": str(refused[1])},
                    key=key,
                )
        if route.model is not None and self.config.validate_body:
            errors = parse_and_validate(body, self.validators[id(route)])
            if errors:
                return self._gateway(
                    400,
                    "the request body does not match the EvaluationRequest schema",
                    "BadRequestException",
                    "BAD_REQUEST_BODY",
                    errors=errors,
                    key=key,
                )
        return self._invoke(http, route, method, split, path_parameters or {}, body, key)

    def _invoke(
        self,
        http: BaseHTTPRequestHandler,
        route: Route,
        method: str,
        split: Any,
        path_parameters: dict[str, str],
        body: bytes,
        key: KeyPolicy | None,
    ) -> tuple[int, dict[str, str], Any, KeyPolicy | None, str | None]:
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            # Not text: API Gateway hands a Lambda such a body base64-encoded.
            text, encoded = base64.b64encode(body).decode(), True
        headers = {k: v for k, v in http.headers.items()} | {
            "X-Forwarded-Proto": "http",
            "X-Forwarded-For": http.client_address[0],
        }
        query = parse_qs(split.query, keep_blank_values=True)
        host = http.headers.get("Host") or self.url.removeprefix("http://")
        event = {
            "resource": route.path,
            "path": split.path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "local",
                "stage": "local",
                "resourceId": "local",
                "resourcePath": route.path,
                "httpMethod": method,
                "path": split.path,
                "domainName": host,
                "protocol": "HTTP/1.1",
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {
                    "sourceIp": http.client_address[0],
                    "userAgent": http.headers.get("User-Agent"),
                    "apiKey": key.value if key else None,
                    "apiKeyId": key.key_id if key else None,
                },
            },
            "body": text if body else None,
            "isBase64Encoded": encoded,
        }
        spec = self.stack.functions[route.function]
        context = LambdaContext(
            function_name=spec.logical_id,
            invoked_function_arn=spec.arn,
            memory_limit_in_mb=spec.memory,
            timeout_seconds=spec.timeout,
            aws_request_id=str(uuid.uuid4()),
        )
        with self._lock:
            self.lambda_invocations += 1
        try:
            result = self.functions[route.function](event, context)
            status = int(result["statusCode"])
            out_headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
            for name, values in (result.get("multiValueHeaders") or {}).items():
                out_headers.setdefault(name, ", ".join(map(str, values)))
            raw = result.get("body") or ""
            data = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        except Exception:  # API Gateway's answer to a failed or malformed integration
            return self._gateway(
                502, "Internal server error", "InternalServerErrorException", "INTEGRATION_FAILURE", key=key
            )
        content_type = next((v for k, v in out_headers.items() if k.lower() == "content-type"), "")
        if content_type.startswith("application/json"):
            text = _S3_URL.sub(lambda m: f"{self.url}/_s3/{m['bucket']}/", data.decode("utf-8"))
            data = text.encode()
        return status, out_headers, data, key, None

    def _s3_object(self, path: str, query: str) -> tuple[int, dict[str, str], Any, None, str | None]:
        from botocore.exceptions import ClientError

        def s3_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], Any, None, str]:
            xml = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
            )
            return status, {"Content-Type": "application/xml"}, xml.encode(), None, code

        bucket, _, key = path.removeprefix("/_s3/").partition("/")
        # The URL was signed for S3's own host (which ``_invoke`` rewrote to this relay).
        hosts = [f"{bucket}.s3.amazonaws.com", f"{bucket}.s3.{REGION}.amazonaws.com"]
        problem = refusal("GET", hosts, f"/{key}", query, self.credentials)
        if problem is not None:
            code = "SignatureDoesNotMatch" if "signature" in problem else "AccessDenied"
            return s3_error(403, code, problem)
        try:
            obj = self.s3.get_object(Bucket=bucket, Key=unquote(key))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "AccessDenied")
            return s3_error(404 if code in ("NoSuchKey", "NoSuchBucket") else 403, code, "not found")
        content_type = obj.get("ContentType") or "application/octet-stream"
        return 200, {"Content-Type": content_type}, obj["Body"].read(), None, None
