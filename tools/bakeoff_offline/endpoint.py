"""Start the local Converse endpoint (``python -m converse_local serve``) as a child process.

A separate process on purpose: llama.cpp inference is CPU-bound, and the offline stack's handlers
share one interpreter; in its own process the model server neither holds their GIL nor dies with
a handler.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path


class EndpointError(RuntimeError):
    pass


class ModelServerDied(EndpointError):
    """The server was killed by a signal: the message says which and what to do (not "install the models")."""


# What a signal that killed the model server most likely means, and what to do about it.
_SIGNAL_HINTS = {
    signal.SIGILL: "llama.cpp ran an instruction this CPU cannot execute: it was compiled for another CPU. "
    "Rebuild it for a portable baseline: `make rebuild-llama`, then run again",
    signal.SIGSEGV: "llama.cpp crashed; a build made for another CPU (AMX, AVX-512) does this, see `dmesg`. "
    "Rebuild it for a portable baseline: `make rebuild-llama`, then run again",
    signal.SIGBUS: "llama.cpp crashed (bus error); see `dmesg`. Rebuild it: `make rebuild-llama`",
    signal.SIGKILL: "something killed it, most often the kernel's out-of-memory killer (see `dmesg`); "
    "free memory or run fewer or smaller models",
}


def death_message(returncode: int, stderr_tail: str) -> str:
    """One sentence for a model server that exited by itself: what died, how, and what to do."""
    if returncode < 0:
        sig = signal.Signals(-returncode)
        hint = _SIGNAL_HINTS.get(sig, "see its last output below")
        message = f"the local model server died: killed by signal {sig.value} ({sig.name}). {hint}."
    else:
        message = f"the local model server died: it exited with status {returncode}. See its last output below."
    return message + (f"\nits last output:\n{stderr_tail}" if stderr_tail else "")


class LocalEndpoint:
    """``with LocalEndpoint(models) as url:`` a Converse endpoint serving those local models."""

    def __init__(
        self,
        model_ids: Iterable[str],
        *,
        faults: Path | None = None,
        preload: bool = True,
        startup_timeout: float = 900,
        on_death: Callable[[str], None] | None = None,
    ) -> None:
        """``on_death(message)`` is called (from a watcher thread) if the server exits while in use: a
        crashed server never comes back, so the caller should stop at once rather than retry."""
        self.model_ids = list(dict.fromkeys(model_ids))
        self.on_death = on_death
        self.death: str | None = None  # the death message, once the server has died by itself
        self._closing = threading.Event()
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
        self.process = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
        )
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
            returncode = self.process.poll()
            self.__exit__()
            tail = self.stderr_tail()
            if returncode is not None and returncode < 0:
                raise ModelServerDied(death_message(returncode, tail))
            raise EndpointError(f"the local model endpoint did not start: {tail or 'no output'}")
        self.url = line_box[0]
        threading.Thread(target=self._watch, daemon=True, name="model-server-watch").start()
        return self.url

    def stderr_tail(self, lines: int = 20) -> str:
        return "".join(self._stderr[-lines:]).strip()

    def _watch(self) -> None:
        assert self.process
        returncode = self.process.wait()
        if self._closing.is_set():
            return
        # At once, before any scheduled Retry reaches the dead server; its last words so far go with it.
        self.death = death_message(returncode, self.stderr_tail())
        if self.on_death:
            self.on_death(self.death)

    def _drain_stderr(self) -> None:
        assert self.process and self.process.stderr
        for line in self.process.stderr:
            self._stderr.append(line)
            del self._stderr[:-200]

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
