"""A local Lambda Invoke API (``POST /2015-03-31/functions/{name}/invocations``) that runs the real
handlers in-process: what ``sam local start-lambda`` serves, without Docker.

Errors follow the Lambda runtime's contract: a handler exception answers 200 with
``X-Amz-Function-Error: Unhandled`` and ``{errorMessage, errorType, stackTrace}``, so Step Functions
sees the exception class name as the error name, as on AWS.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from bakeoff_offline.loopback import LoopbackServer

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    """One finished invocation, for progress display and tests."""

    function: str
    payload: Any
    result: Any
    error_type: str | None
    seconds: float
    started: float = 0.0  # time.perf_counter() at the start, to see which invocations overlapped


@dataclass
class LocalFunction:
    name: str
    arn: str
    handler: Handler
    memory: int
    timeout: int


def error_payload(exc: BaseException) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)[-8:],
    }


class LambdaInvokeServer(LoopbackServer):
    """Serves the given functions on 127.0.0.1; ``listeners`` hear every start and finish."""

    def __init__(self, functions: dict[str, LocalFunction], host: str = "127.0.0.1", port: int = 0) -> None:
        self.functions = functions
        self.on_start: list[Callable[[str, Any], None]] = []
        self.on_finish: list[Callable[[Invocation], None]] = []
        self.invocations: list[Invocation] = []
        # Set when the run was aborted (the model server died): later invocations fail at once, unrun, so
        # no Retry already scheduled by the state machine calls a process that is gone.
        self.refusing: str | None = None
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep the CLI's output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) != 4 or parts[0] != "2015-03-31" or parts[1] != "functions" or parts[3] != "invocations":
                    return self._send(404, {"message": f"no route {self.path}"}, error_type="ResourceNotFoundException")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                function = server.find(unquote(parts[2]))
                if function is None:
                    return self._send(
                        404,
                        {"Message": f"Function not found: {unquote(parts[2])}"},
                        error_type="ResourceNotFoundException",
                    )
                try:
                    payload = json.loads(body) if body else {}
                except ValueError as exc:
                    return self._send(
                        400, {"message": f"payload is not JSON: {exc}"}, error_type="InvalidRequestContentException"
                    )
                status_body, function_error = server.invoke(function, payload)
                headers = {"X-Amz-Function-Error": function_error} if function_error else {}
                self._send(200, status_body, extra=headers | {"X-Amz-Executed-Version": "$LATEST"})

            def _send(
                self, status: int, body: Any, error_type: str | None = None, extra: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(body, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self._listen(_Handler, host, port, "lambda-invoke-api")

    def find(self, name_or_arn: str) -> LocalFunction | None:
        for function in self.functions.values():
            if name_or_arn in (function.name, function.arn) or name_or_arn.split(":")[-1] == function.name:
                return function
        return None

    def invoke(self, function: LocalFunction, payload: Any) -> tuple[Any, str | None]:
        """Run the handler; returns (body, function_error)."""
        if self.refusing is not None:
            return {"errorMessage": self.refusing, "errorType": "ExecutionAborted", "stackTrace": []}, "Unhandled"
        for listener in self.on_start:
            listener(function.name, payload)
        context = LambdaContext(
            function_name=function.name,
            invoked_function_arn=function.arn,
            memory_limit_in_mb=function.memory,
            timeout_seconds=function.timeout,
            aws_request_id=str(uuid.uuid4()),
        )
        started = time.perf_counter()
        try:
            result, error_type = function.handler(payload, context), None
            body, function_error = result, None
        except Exception as exc:  # the runtime's contract: report, never crash the server
            result, error_type = None, type(exc).__name__
            body, function_error = error_payload(exc), "Unhandled"
        done = Invocation(
            function.name,
            payload,
            result if error_type is None else body,
            error_type,
            time.perf_counter() - started,
            started,
        )
        with self._lock:
            self.invocations.append(done)
        for listener in self.on_finish:
            listener(done)
        return body, function_error
