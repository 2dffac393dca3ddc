"""Playwright driving Debian's chromium against the real stack (`staysaga up`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.stack import StackProcess, running_stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Where the screenshots go: a scratch folder, unless STAYSAGA_SCREENSHOTS names one (the
# README's `docs/screenshots` refresh), so a test run leaves the checkout as it found it.
SCREENSHOTS_ENV = "STAYSAGA_SCREENSHOTS"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is a browser test on the real stack."""
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    """Headless chromium from Debian's package (never a downloaded one)."""
    skip_without_chromium()
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> AsyncIterator[StackProcess]:
    """The whole local stack on free ports, as `staysaga up` runs it."""
    skip_without_chromium()
    var_dir = tmp_path_factory.mktemp("browser-stack")
    # Every browser test signs up from 127.0.0.1, more often than a visitor may.
    env = {"WEB_SESSION_SECRET": "browser-test-secret", "WEB_RATE_LIMIT_SCALE": "20"}
    with running_stack(var_dir, env) as running:
        yield running


@pytest.fixture
async def page(browser) -> AsyncIterator[object]:
    """A fresh desktop-sized page; fails the test on any CSP violation it reports."""
    context = await browser.new_context(viewport=DESKTOP)
    opened = await context.new_page()
    violations: list[str] = []
    opened.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield opened
    await context.close()
    assert violations == [], violations


def screenshot_path(name: str) -> str:
    """Where a screenshot of a main page goes."""
    chosen = os.environ.get(SCREENSHOTS_ENV)
    folder = Path(chosen) if chosen else Path(tempfile.gettempdir()) / "staysaga-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{name}.png")


def skip_without_chromium() -> None:
    """Skip, saying why, where Debian's chromium is not installed."""
    if shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does)")
