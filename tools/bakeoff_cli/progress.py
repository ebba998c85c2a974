"""What ``bakeoff local run`` shows while it works: one line per step as it happens, and, on a terminal, a
live line per model call in flight (tokens written, tokens/s, ETA) read from the local endpoint.

The steps come from the local Lambda API's start/finish events. The live lines come from the local
Converse endpoint's ``GET /progress`` (not part of Converse; another endpoint simply has none, and then
only the step lines show). Off a terminal (CI logs), the live lines are printed every 20 s instead.
A failed model call that the state machine will retry is shown as a retry, not as a failure.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import Counter
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.text import Text

HEARTBEAT_SECONDS = 20
POLL_SECONDS = 0.5


class Retries:
    """The InvokeModel state's Retry rules: which errors the state machine retries, and how often."""

    def __init__(self, definition: dict[str, Any]) -> None:
        state = definition["States"]["InvokeModels"]["ItemProcessor"]["States"]["InvokeModel"]
        self.rules = [(set(rule["ErrorEquals"]), int(rule.get("MaxAttempts", 3))) for rule in state.get("Retry", [])]

    def allowed(self, error_type: str) -> int:
        """How many retries the state machine makes after this error (0: it is caught as a failure)."""
        for names, attempts in self.rules:
            if error_type in names or "States.ALL" in names:
                return attempts
        return 0


def _call_line(call: dict[str, Any], now: float) -> str:
    role = "judging" if call.get("tool") else "answering"
    phase, elapsed = call.get("phase"), max(now - call.get("since", now), 0.0)
    head = f"  {escape(call.get('modelId', '?'))} {role}"
    if phase == "queued":
        return f"{head}: waiting for a free core ({elapsed:.0f}s)"
    if phase == "reading":
        return f"{head}: reading {call.get('inputTokens', '?')} prompt tokens ({elapsed:.0f}s)"
    done, most = call.get("outputTokens", 0), call.get("maxTokens", 0)
    rate = done / elapsed if elapsed > 0.5 else 0.0
    eta = f", ETA ≤ {(most - done) / rate:.0f}s" if rate > 0 and most > done else ""
    return f"{head}: {done}/{most} tokens, {rate:.1f} tokens/s{eta}"


class Progress:
    """Listens to the local Lambda API; ``follow(endpoint_url)`` adds the endpoint's live calls."""

    def __init__(self, console: Console, retries: Retries | None = None) -> None:
        self.console = console
        self.retries = retries
        self.started = time.perf_counter()
        self.lock = threading.Lock()
        self.dataset = False  # many items: print counts, not a line per call
        self.done = {"answers": 0, "failed": 0, "items": 0, "tokens": 0}
        self._batch_seen = ""  # the batch jobs' statuses last shown (batch mode polls them every few seconds)
        self.attempts: Counter[str] = Counter()
        self.calls: list[dict[str, Any]] = []  # the endpoint's calls in flight, as last polled
        self.running: dict[str, float] = {}  # step -> since when: what shows when the endpoint tells nothing
        self._progress_url: str | None = None
        self._stop = threading.Event()
        self._live: Live | None = None

    def stamp(self) -> str:
        return f"[dim]{time.perf_counter() - self.started:6.1f}s[/dim]"

    def say(self, message: str) -> None:
        """One step line; ``message`` is markup that the caller has escaped."""
        self.console.print(f"{self.stamp()}  {message}")

    # --- the live part ------------------------------------------------------------------------

    def start(self, endpoint_url: str | None) -> None:
        """Poll ``endpoint_url``'s /progress (a local endpoint), and show it live on a terminal."""
        self._progress_url = endpoint_url.rstrip("/") + "/progress" if endpoint_url else None
        if self._progress_url:
            threading.Thread(target=self._poll, daemon=True, name="progress-poll").start()
        if self.console.is_terminal:
            self._live = Live(self, console=self.console, refresh_per_second=2, transient=True)
            self._live.start()
        else:
            threading.Thread(target=self._heartbeat, daemon=True, name="progress-heartbeat").start()

    def stop(self) -> None:
        self._stop.set()
        if self._live:
            self._live.stop()

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                with urllib.request.urlopen(self._progress_url, timeout=2) as response:  # noqa: S310 - loopback
                    self.calls = json.loads(response.read()).get("calls", [])
            except (OSError, ValueError):
                self.calls = []  # a server without /progress, or one that is gone: nothing to show

    def _status_lines(self) -> list[str]:
        now = time.time()
        lines = [_call_line(call, now) for call in self.calls] or [
            f"  {what} ({time.perf_counter() - since:.0f}s)" for what, since in list(self.running.items())
        ]
        if self.dataset:
            lines.append(
                f"  items scored: {self.done['items']} · answers: {self.done['answers']} ok, "
                f"{self.done['failed']} failed"
            )
        return lines

    def __rich__(self) -> Group:
        elapsed = time.perf_counter() - self.started
        lines = self._status_lines() or ["  working …"]
        return Group(
            *(Text.from_markup(line) for line in lines),
            Text.from_markup(
                f"  [dim]{elapsed:.0f}s elapsed · {self.done['tokens']} tokens written by the candidates so far[/dim]"
            ),
        )

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            lines = self._status_lines() or ["  … still working"]
            with self.lock:
                for line in lines:
                    self.say(line.strip())

    # --- the steps -----------------------------------------------------------------------------

    def on_start(self, function: str, payload: Any) -> None:
        if self.dataset and function in ("InvokeModelFunction", "ScoreFunction"):
            return
        with self.lock:
            if function == "InvokeModelFunction":
                model = payload.get("modelId", "?")
                again = f" (attempt {self.attempts[model] + 1})" if self.attempts[model] else ""
                self.running[f"{escape(model)} answering"] = time.perf_counter()
                self.say(f"{escape(model)}: answering{again} …")
            elif function == "ScoreFunction":
                n = sum(1 for r in payload.get("results", []) if r.get("status") == "ok")
                self.running["the judge"] = time.perf_counter()
                self.say(f"judging {n} answer(s) …")
            elif function == "ValidateFunction":
                self.say("validating the request …")
            elif function == "ReportFunction":
                self.say("writing the report …")

    def on_finish(self, done: Any) -> None:
        if done.function == "BatchJobFunction" and not done.error_type:
            jobs = ", ".join(
                f"{escape(j['modelId'])} {j['status']} ({j['records']} records)" for j in done.result.get("jobs", [])
            )
            with self.lock:
                if jobs != self._batch_seen:
                    self._batch_seen = jobs
                    self.say(f"batch jobs: {jobs or 'none needed (every answer is checkpointed)'}")
            return
        if self.dataset and done.function in ("InvokeModelFunction", "ScoreFunction"):
            with self.lock:
                key = "items" if done.function == "ScoreFunction" else ("failed" if done.error_type else "answers")
                self.done[key] += 1
                if (
                    not self._live
                    and done.function == "ScoreFunction"
                    and (self.done["items"] % 10 == 0 or self.done["items"] < 3)
                ):
                    self.say(
                        f"items scored: {self.done['items']} · answers: {self.done['answers']} ok, "
                        f"{self.done['failed']} failed"
                    )
            return
        with self.lock:
            if done.function == "InvokeModelFunction":
                self.running.pop(f"{escape(done.payload.get('modelId', '?'))} answering", None)
                self._model_finished(done)
            elif done.function == "ScoreFunction" and not done.error_type:
                self.running.pop("the judge", None)
                r = done.result
                self.say(
                    f"[green]✓[/green] judged: {r.get('scored')} scored, {r.get('unscored')} unscored "
                    f"({done.seconds:.1f}s)"
                )
            elif done.error_type:
                self.say(
                    f"[yellow]![/yellow] {escape(done.function)}: {escape(done.error_type)}; the state "
                    "machine retries it if it can"
                )

    def _model_finished(self, done: Any) -> None:
        model = done.payload.get("modelId", "?")
        if not done.error_type:
            r = done.result
            tokens = (r.get("usage") or {}).get("outputTokens", 0)
            self.done["tokens"] += tokens
            cached = " (from checkpoint)" if r.get("cached") else ""
            self.say(f"[green]✓[/green] {escape(model)}: {tokens} tokens in {done.seconds:.1f}s{cached}")
            return
        self.attempts[model] += 1
        message = (done.result or {}).get("errorMessage", "") if isinstance(done.result, dict) else ""
        try:  # a Bakeoff error's message is JSON with the readable part under "message"
            message = json.loads(message).get("message", message)
        except (ValueError, AttributeError):
            pass
        detail = f": {escape(str(message)[:160])}" if message else ""
        allowed = self.retries.allowed(done.error_type) if self.retries else 0
        if self.attempts[model] <= allowed:
            self.say(
                f"[yellow]↻[/yellow] {escape(model)}: {escape(done.error_type)}{detail}; retrying "
                f"(retry {self.attempts[model]} of {allowed})"
            )
        else:
            self.say(f"[red]✗[/red] {escape(model)}: {escape(done.error_type)}{detail}; recorded as failed")
