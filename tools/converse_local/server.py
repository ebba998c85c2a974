"""An HTTP server that speaks the Bedrock Runtime Converse API on loopback, in front of any backend.

A backend is any object with `converse(model_id, request) -> dict` (a Converse response body, see `wire`)
that may raise `wire.ConverseError`, and `model_ids() -> list[str]`. The backend decides which model IDs
it serves and raises `wire.invalid_model_error(model_id)` for the others, as Bedrock does.

    with ConverseServer(backend) as server:
        client = boto3.client("bedrock-runtime", endpoint_url=server.url, ...)
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from converse_local import wire
from converse_local.faults import Fault, fabricated_answer

logger = logging.getLogger("converse_local.server")

# botocore percent-encodes the whole label, so an ARN's "/" arrives as %2F and never splits the path.
_CONVERSE_ROUTE = re.compile(r"/model/([^/]+)/converse")


class Backend(Protocol):
    def converse(self, model_id: str, request: dict) -> dict: ...

    def model_ids(self) -> list[str]: ...


@dataclass
class _FaultState:
    fault: Fault
    seen: int = 0


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Joining handler threads on close would wait for hung or keep-alive connections; stop() closes
    # their sockets instead, which ends them promptly.
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128  # many concurrent callers (a dataset run); the default 5 drops connections

    def __init__(self, address: tuple[str, int], converse: ConverseServer) -> None:
        self.converse = converse
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    # Headers and body go out as two writes; with Nagle's algorithm on, the body waits for the
    # client's delayed ACK of the headers: 40 ms added to every call on Linux loopback.
    disable_nagle_algorithm = True
    server: _HTTPServer
    server_version = "converse-local"

    def setup(self) -> None:
        super().setup()
        self.server.converse._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.converse._untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/ping":
            self._send_json(200, {"status": "ok", "models": self.server.converse.backend.model_ids()})
        elif path == "/progress":
            # Not part of Converse: the calls in flight, for a client that shows live progress (bakeoff local run).
            progress = getattr(self.server.converse.backend, "progress", None)
            self._send_json(200, {"calls": progress() if progress else []})
        else:
            self._send_error(404, "UnknownOperationException", f"No route for GET {self.path}")

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = _CONVERSE_ROUTE.fullmatch(urlsplit(self.path).path)
        if not match:
            self._send_error(404, "UnknownOperationException", f"No route for POST {self.path}")
            return
        outcome = self.server.converse._handle(unquote(match.group(1)), raw)
        if outcome is None:  # a hang or a stop mid-delay: drop the connection without an answer
            self.close_connection = True
            return
        status, payload, error_type = outcome
        if error_type:
            self._send_error(status, error_type, payload["message"])
        else:
            self._send_json(status, payload)

    def _send_json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, error_type: str, message: str) -> None:
        self._send_json(status, {"message": message}, {"x-amzn-ErrorType": error_type})


class ConverseServer:
    """Serves `POST /model/{modelId}/converse` for `backend` in a daemon thread.

    `calls` counts requests per model ID (before faults are applied); `requests` keeps each
    `(model_id, body)` in arrival order. Both are updated under a lock, so tests may read them while
    calls are in flight.
    """

    def __init__(self, backend: Backend, host: str = "127.0.0.1", port: int = 0) -> None:
        self.backend = backend
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, dict]] = []
        self._address = (host, port)
        self._lock = threading.Lock()
        self._faults: dict[str, _FaultState] = {}
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> ConverseServer:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._stopping.clear()
        self._httpd = _HTTPServer(self._address, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="converse-local",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, release hung and delayed calls, and close every open connection."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ConverseServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self._address[0]
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    # --- faults ----------------------------------------------------------------------------------------

    def set_fault(self, model_id: str, fault: Fault) -> None:
        """Apply `fault` to the following calls of `model_id` (its call numbers start again at 1)."""
        with self._lock:
            self._faults[model_id] = _FaultState(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # --- request handling (called from handler threads) -----------------------------------------------

    def _track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _handle(self, model_id: str, raw: bytes) -> tuple[int, dict, str | None] | None:
        """(status, body, error type or None), or None to drop the connection unanswered."""
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _error_outcome(wire.validation_error(f"Malformed input request: {exc}"))

        with self._lock:
            self.calls[model_id] += 1
            self.requests.append((model_id, body))
            state = self._faults.get(model_id)
            if state is not None:
                state.seen += 1
                fault, call_number = state.fault, state.seen
            else:
                fault, call_number = None, 0

        try:
            wire.validate_request(body)
            if fault is not None:
                if fault.delay_seconds and self._stopping.wait(fault.delay_seconds):
                    return None
                if fault.hang:
                    self._stopping.wait()
                    return None
                error = fault.error_for_call(call_number)
                if error is not None:
                    raise error
                if fault.replaces_answer:
                    return 200, fabricated_answer(fault, body), None
            response = self.backend.converse(model_id, body)
        except wire.ConverseError as error:
            return _error_outcome(error)
        except Exception as exc:  # a backend bug must still answer as Bedrock would, not hang the client
            logger.exception("backend failed for model %s", model_id)
            return _error_outcome(wire.ConverseError("InternalServerException", f"{type(exc).__name__}: {exc}"))
        response.setdefault("metrics", {"latencyMs": 0})
        return 200, response, None


def _error_outcome(error: wire.ConverseError) -> tuple[int, dict, str]:
    return error.status, wire.error_body(error), error.error_type
