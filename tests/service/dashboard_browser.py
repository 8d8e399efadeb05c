"""Driving the dashboard in Debian's chromium (Playwright): one browser per test module, a
fresh context (its own sessionStorage) per page, screenshots kept under tests/artifacts/."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"


@contextlib.contextmanager
def chromium():
    from playwright import sync_api

    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is not installed (test.sh installs Debian's chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


class Dashboard:
    """A signed-in tab: ``open(path)`` loads a page and waits until its script says ready."""

    def __init__(self, browser, base_url: str, token: str | None):
        self.base_url, self.token = base_url, token
        self.context = browser.new_context(viewport={"width": 1366, "height": 800}, accept_downloads=True)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.set_default_timeout(20_000)
        if token is not None:
            self.page.add_init_script(f"sessionStorage.setItem('trainyard.token', {token!r});")

    def set_project(self, proj_id: str) -> None:
        self.page.add_init_script(f"sessionStorage.setItem('trainyard.project', {proj_id!r});")

    def open(self, path: str, ready: bool = True):
        self.page.goto(self.base_url + path)
        if ready:
            self.wait_ready()
        return self.page

    def wait_ready(self, timeout_ms: int = 20_000) -> None:
        self.page.wait_for_selector("body[data-ready='1']", timeout=timeout_ms)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def wait_text(self, selector: str, predicate, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.page.locator(selector).inner_text()
            if predicate(text):
                return text
            assert time.monotonic() < deadline, f"{selector} stayed {text!r}"
            time.sleep(0.1)

    def close(self) -> None:
        self.context.close()
