"""The browser tests' fixtures: one headless Chromium for the run, reset before each test."""

from __future__ import annotations

import pytest

from web.tests.browser import Browser, start_chromium


@pytest.fixture(scope="session")
def chromium():
    driver = start_chromium()
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium, gateway) -> Browser:
    """Chromium on the live gateway (uvicorn, the test database, the development upstream): no cookies,
    English, a desktop screen."""
    browser = Browser(chromium, gateway.url)
    browser.reset()
    return browser
