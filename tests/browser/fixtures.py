"""A real Chromium (Debian's, driven by Playwright) against the app served on a local port.

Playwright cannot download its own browser here, so the project installs Debian's ``chromium``
(``make browser``). Without it these tests skip locally; under CI (RETRIBUSI_REQUIRE_BROWSER=1)
a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, Request, Response, sync_playwright
from werkzeug.serving import make_server

ARTIFACTS = Path(os.environ.get("RETRIBUSI_ARTIFACTS", "build/test-artifacts"))
PHONE = {"width": 360, "height": 740}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    path = os.environ.get("RETRIBUSI_CHROMIUM") or shutil.which("chromium")
    if path:
        return path
    if os.environ.get("RETRIBUSI_REQUIRE_BROWSER") == "1":
        pytest.fail("chromium is required (RETRIBUSI_REQUIRE_BROWSER=1); run `make browser`")
    pytest.skip("chromium is not installed; run `make browser`")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = _chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The app served by a threaded WSGI server on a free local port for this test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@dataclass
class Traffic:
    """What a page fetched: for the same-origin rule and the page-weight budget."""

    origin: str
    requests: list[str] = field(default_factory=list)
    bytes_by_url: dict[str, int] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)

    def foreign(self) -> list[str]:
        return [u for u in self.requests if not u.startswith((self.origin, "data:", "blob:"))]

    def total_bytes(self) -> int:
        return sum(self.bytes_by_url.values())

    def reset(self) -> None:
        self.requests.clear()
        self.bytes_by_url.clear()


@pytest.fixture
def phone_page(browser: Browser, live_url: str) -> Iterator[tuple[Page, Traffic]]:
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="id-ID"
    )
    page = context.new_page()
    traffic = Traffic(origin=live_url)

    def on_request(request: Request) -> None:
        traffic.requests.append(request.url)

    def on_response(response: Response) -> None:
        try:
            traffic.bytes_by_url[response.url] = len(response.body())
        except Exception:  # redirects have no body to read
            traffic.bytes_by_url.setdefault(response.url, 0)

    page.on("request", on_request)
    page.on("response", on_response)
    page.on(
        "console", lambda m: traffic.console_errors.append(m.text) if m.type == "error" else None
    )
    yield page, traffic
    context.close()


def save_artifact(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def record_weight(name: str, weight: int) -> int:
    """Keep a page's transferred bytes as build/test-artifacts/page-weight-<name>.json (one file
    per page: test workers run side by side)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"page-weight-{name}.json").write_text(json.dumps({name: weight}))
    return weight
