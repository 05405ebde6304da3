"""Make the web chat page's pictures in docs/images/: desktop and phone, English and Simplified Chinese.

    .venv/bin/python docs/make_chat_screenshots.py [--out docs/images]

Needs Chromium and its driver (Debian: `apt-get install chromium chromium-driver`) and, for the Chinese
pictures, a Chinese font (`fonts-wqy-microhei` or `fonts-noto-cjk`). It does what `make run` does, on a
throwaway database: migrate, load the demo users, serve with `manage.py rungateway` and the development
upstream; then it logs in as alice in headless Chromium, chats a little and photographs the page.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

CHATS = [
    "What can you do?",
    "Show me some **Markdown**:\n\n- a list\n- with `code`\n\n```python\nprint('hello, gateway')\n```",
    "用三句话介绍一下杭州。",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(BASE_DIR / "docs" / "images"))
    args = parser.parse_args()
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        raise SystemExit("Chromium is missing: apt-get install chromium chromium-driver")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatgateway.settings")
    import django

    django.setup()  # the test suite's browser helper comes with the suite's imports
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, make_run(Path(scratch)) as base_url:
        for name in photograph(base_url, out):
            print(f"wrote {name}")


@contextlib.contextmanager
def make_run(scratch: Path) -> Iterator[str]:
    """`make run` on a fresh SQLite database in `scratch`: the gateway's address while the block runs."""
    from devtools.testing import free_port, wait_until_healthy

    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "DJANGO_"))}
    env.update(DATABASE_URL=f"sqlite:///{scratch / 'demo.sqlite3'}", DEBUG="1", LOG_LEVEL="WARNING")
    env.update(PORT=str(free_port()), DEV_UPSTREAM_PORT=str(free_port()))
    for command in (["migrate", "--noinput", "-v0"], ["setup_users"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=BASE_DIR, env=env, check=True)  # noqa: S603
    server = subprocess.Popen(
        [sys.executable, "manage.py", "rungateway", "--noreload"], cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_until_healthy(base_url, process=server, seconds=30)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=20)


def photograph(base_url: str, out: Path) -> Iterator[str]:
    from selenium.webdriver.support.select import Select

    from web.tests.browser import DESKTOP, PHONE, Browser, start_chromium

    driver = start_chromium()
    try:
        browser = Browser(driver, base_url)
        browser.reset(screen=DESKTOP)
        browser.log_in("alice", "alice-demo-1")
        for text in CHATS:
            browser.find("#new-conversation").click()
            browser.send(text)
            browser.wait_for_answer()
        open_conversation(browser, CHATS[1])
        yield save(browser, out / "chat-desktop-en.png")
        browser.set_screen(PHONE)
        yield save(browser, out / "chat-phone-en.png")
        browser.set_screen(DESKTOP)
        Select(browser.find("#language")).select_by_value("zh-hans")
        browser.wait(lambda: browser.script("return document.documentElement.lang") == "zh-hans")
        open_conversation(browser, CHATS[2])
        yield save(browser, out / "chat-desktop-zh.png")
        browser.set_screen(PHONE)
        browser.find("#toggle-sidebar").click()  # the phone's conversation list, slid in
        yield save(browser, out / "chat-phone-zh.png")
    finally:
        driver.quit()


def open_conversation(browser, first_message: str) -> None:
    title = first_message.splitlines()[0]
    browser.wait(lambda: browser.find_all("#conversations button.conversation"))
    for button in browser.find_all("#conversations button.conversation"):
        if button.text.startswith(title):
            button.click()
    browser.wait(lambda: browser.find_all(".message.assistant"))


def save(browser, path: Path) -> str:
    import time

    time.sleep(0.4)  # the sidebar's slide and the last paint
    browser.driver.save_screenshot(str(path))
    return str(path.relative_to(BASE_DIR)) if path.is_relative_to(BASE_DIR) else str(path)


if __name__ == "__main__":
    main()
