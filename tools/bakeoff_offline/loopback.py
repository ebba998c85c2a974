"""The lifecycle both offline HTTP servers share (the Lambda Invoke API and the API Gateway stand-in):
a threading server on loopback, served from a daemon thread, usable as a context manager."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class _Server(ThreadingHTTPServer):
    # A dataset's Distributed Map opens dozens of connections at once; the default backlog of 5 drops them.
    request_queue_size = 128
    daemon_threads = True


class LoopbackServer:
    """Subclasses build their request handler class and call ``_listen(handler, host, port, name)``."""

    def _listen(self, handler: type[BaseHTTPRequestHandler], host: str, port: int, name: str) -> None:
        # Headers and body go out as two writes; with Nagle's algorithm on, the body waits for the
        # client's delayed ACK of the headers: 40 ms added to every request on Linux loopback.
        handler.disable_nagle_algorithm = True
        self._httpd = _Server((host, port), handler)
        self._thread_name = name
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        # serve_forever checks for shutdown every poll_interval: the default 0.5 s is what stop() waits.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self._thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
