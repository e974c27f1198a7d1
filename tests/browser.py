"""A real browser for the tests that look at pages: Debian's Chromium, driven by Playwright.

Playwright's own browser download does not work here, so the browser is the
system's (``/usr/bin/chromium``, ``.ci/run`` installs it; ``RFDESIGN_CHROMIUM``
names another). A test module takes the fixtures by importing them::

    from browser import browser, page  # noqa: F401 - pytest fixtures

``browser`` is one Chromium for the session; ``page`` is a fresh page (its own
context, 1400x1000) that fails the test on any JavaScript error.
"""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("RFDESIGN_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str:
    """The browser to drive; outside CI a missing one skips the test, in CI it fails it."""
    if os.path.exists(CHROMIUM) or shutil.which(CHROMIUM):
        return CHROMIUM
    message = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set RFDESIGN_CHROMIUM)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in the [test] extra)")
    path = chromium_path()
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text
            else None)
    page.set_default_timeout(30_000)
    yield page
    context.close()
    assert not errors, errors
