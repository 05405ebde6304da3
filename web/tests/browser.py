"""Headless Chromium from the system's packages (Debian's `chromium` and `chromium-driver`), driven by Selenium.

Nothing is downloaded: Selenium is given the system's chromedriver and browser, whose versions match.
`make test` and `make install` install both when they are missing and the user is root; elsewhere the
browser tests skip, saying why, except in CI (`CI=true`), where a missing browser fails them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from conftest import PASSWORD

T = TypeVar("T")
DESKTOP = {"width": 1280, "height": 860, "mobile": False}
PHONE = {"width": 390, "height": 844, "mobile": True}  # an iPhone 12 to 15's viewport


def start_chromium() -> webdriver.Chrome:
    """Headless Chromium; a skip (or in CI, a failure) when the system has none."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not (chromium and chromedriver):
        reason = "Chromium is not installed: apt-get install chromium chromium-driver (make test does, as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"):
        options.add_argument(flag)
    # The console's messages, for the tests that read what the page reported (CSP violations among them).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(chromedriver), options=options)


class Browser:
    """The shared Chromium, pointed at one live gateway, with the few steps the tests take."""

    def __init__(self, driver: webdriver.Chrome, base_url: str) -> None:
        self.driver, self.base_url = driver, base_url

    def reset(self, *, languages: str = "en-US,en", screen: dict = DESKTOP) -> None:
        """No cookies, the given Accept-Language and screen, and the clock read in UTC."""
        self.driver.get("about:blank")
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        self.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "UTC"})
        self.set_languages(languages)
        self.set_screen(screen)
        self.driver.get_log("browser")  # what earlier tests left in the console is theirs

    def csp_violations(self) -> list[str]:
        """The console's reports of Content-Security-Policy violations since the last call (reading empties it)."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if "Content Security Policy" in entry["message"]
        ]

    def set_languages(self, languages: str) -> None:
        """Accept-Language: `languages`, a plain list such as "zh-CN,zh" (Chromium adds q-values)."""
        agent = self.driver.execute_cdp_cmd("Browser.getVersion", {})["userAgent"]
        self.driver.execute_cdp_cmd("Emulation.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": languages})

    def set_screen(self, screen: dict) -> None:
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**screen, "deviceScaleFactor": 1})

    def open(self, path: str = "/") -> None:
        self.driver.get(self.base_url + path)

    def log_in(self, username: str, password: str = PASSWORD) -> None:
        self.open("/")
        self.find("#id_username").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.find("#login-form button[type=submit]").click()
        self.wait(lambda: self.driver.find_elements(By.ID, "composer"))
        self.wait(lambda: self.text("#quota"))  # the page has loaded what it shows

    def send(self, text: str) -> None:
        """Type `text` (Shift+Enter between lines, as Enter sends) and press Send."""
        prompt = self.find("#prompt")
        for number, line in enumerate(text.split("\n")):
            if number:
                prompt.send_keys(Keys.SHIFT, Keys.ENTER)  # Shift is let go at the end of each call
            prompt.send_keys(line)
        self.find("#send").click()

    def find(self, selector: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def find_all(self, selector: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def text(self, selector: str) -> str:
        """The visible text of the first element matching `selector`; empty when there is none."""
        found = self.find_all(selector)
        return found[0].text if found else ""

    def answers(self) -> list[str]:
        return [answer.text for answer in self.find_all(".message.assistant")]

    def script(self, code: str, *args: object) -> object:
        return self.driver.execute_script(code, *args)

    def wait(self, condition: Callable[[], T], timeout: float = 10) -> T:
        """The first truthy value of `condition`, polled every 20 ms.

        A condition that met an element of the page being left (a click that navigates, then a poll that reads
        the old page just as it goes) is polled again rather than failed: the next poll reads the new page.
        """
        wait = WebDriverWait(
            self.driver, timeout, poll_frequency=0.02, ignored_exceptions=(StaleElementReferenceException,)
        )
        return wait.until(lambda _: condition())

    def wait_for_answer(self) -> str:
        """The text of the latest answer once it has finished streaming."""
        self.wait(lambda: self.find_all(".message.assistant") and not self.find_all(".message.streaming"))
        return self.answers()[-1]

    def has_no_sideways_scroll(self) -> bool:
        return bool(self.script("return document.documentElement.scrollWidth <= window.innerWidth"))
