"""Start the local Converse endpoint (``python -m converse_local serve``) as a child process.

A separate process on purpose: llama.cpp inference is CPU-bound, and the offline stack's handlers
share one interpreter; in its own process the model server neither holds their GIL nor dies with
a handler.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path


class EndpointError(RuntimeError):
    pass


class LocalEndpoint:
    """``with LocalEndpoint(models) as url:`` a Converse endpoint serving those local models."""

    def __init__(self, model_ids: Iterable[str], *, faults: Path | None = None, preload: bool = True,
                 startup_timeout: float = 900) -> None:
        self.model_ids = list(dict.fromkeys(model_ids))
        self.faults = faults
        self.preload = preload
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self.url: str | None = None
        self._stderr: list[str] = []

    def __enter__(self) -> str:
        cmd = [sys.executable, "-m", "converse_local", "serve", "--port", "0", "--models", ",".join(self.model_ids)]
        if self.preload:
            cmd.append("--preload")
        if self.faults:
            cmd += ["--faults", str(self.faults)]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=os.environ.copy())
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        ready = threading.Event()
        line_box: list[str] = []

        def read_ready() -> None:
            assert self.process and self.process.stdout
            for line in self.process.stdout:
                if line.startswith("READY "):
                    line_box.append(line.split(" ", 1)[1].strip())
                    ready.set()
                    return
            ready.set()

        threading.Thread(target=read_ready, daemon=True).start()
        if not ready.wait(self.startup_timeout) or not line_box:
            self.__exit__()
            tail = "".join(self._stderr[-20:]).strip()
            raise EndpointError(f"the local model endpoint did not start: {tail or 'no output'}")
        self.url = line_box[0]
        return self.url

    def _drain_stderr(self) -> None:
        assert self.process and self.process.stderr
        for line in self.process.stderr:
            self._stderr.append(line)
            del self._stderr[:-200]

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
