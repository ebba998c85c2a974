"""Real Chromium for the report tests: Debian's ``chromium`` driven by Playwright for Python.

Playwright's own browser download is never used (no ``playwright install``): the tests launch the
system Chromium by path, headless, with a fresh profile per test. Missing Chromium or Playwright skips
these tests on a developer machine, with the reason, and fails them when ``CI`` is set, so CI can never
pass by skipping them.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Debian's Chromium; BAKEOFF_CHROMIUM points elsewhere (another distribution, a Mac) without editing this.
CHROMIUM = Path(os.environ.get("BAKEOFF_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 900}  # a common laptop screen
OUTPUT_DIR = Path(__file__).resolve().parents[2] / "test-output"


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install playwright; no 'playwright install')"
    return None


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI, but: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@dataclass
class Visit:
    """One page load with everything the page did recorded."""

    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @property
    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"]


@pytest.fixture
def open_html(playwright: Any, tmp_path: Path) -> Iterator[Any]:
    """``open_html(html, name, javascript=True)`` writes the page to disk, opens it from ``file://``
    in a fresh Chromium profile and returns a ``Visit``. Every request is recorded; any that is not
    the file itself is also aborted, so a failing test still never reaches a network."""

    contexts: list[Any] = []

    def open_(html: str, name: str = "report.html", *, javascript: bool = True) -> Visit:
        path = tmp_path / name
        path.write_text(html, encoding="utf-8")
        profile = tmp_path / f"profile-{len(contexts)}"
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,
            java_script_enabled=javascript,
        )
        contexts.append(context)
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(10_000)
        visit = Visit(page=page, url=path.as_uri())

        def route(r: Any) -> None:
            if r.request.url == visit.url:
                r.continue_()
            else:
                visit.blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        context.on("request", lambda request: visit.requests.append(request.url))
        page.on("console", lambda message: visit.console.append((message.type, message.text)))
        page.on("pageerror", lambda error: visit.page_errors.append(str(error)))

        def on_dialog(dialog: Any) -> None:
            visit.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(visit.url, wait_until="load")
        page.wait_for_timeout(200)  # let anything deferred (onerror, timers) have its chance
        return visit

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR
