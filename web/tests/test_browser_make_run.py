"""A newcomer's first minute, for real: `make run`'s commands on a fresh database, then a demo user logs in
at http://…/ and chats with the development upstream."""

from __future__ import annotations

import subprocess
import sys

from django.conf import settings

from chatgateway.tests.test_rungateway import fresh_environment, manage  # noqa: F401 (a fixture)
from devtools.testing import wait_until_healthy
from web.tests.browser import Browser


def test_a_demo_user_logs_in_and_chats_on_what_make_run_serves(chromium, fresh_environment, tmp_path):  # noqa: F811
    env = fresh_environment
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "setup_users")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "rungateway", "--noreload"],
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_until_healthy(base, process=server, seconds=30)
        browser = Browser(chromium, base)
        browser.reset()
        browser.log_in("alice", "alice-demo-1")
        assert browser.text("#quota").startswith("10 of 10 requests left today · 20,000 tokens left")

        browser.send("Hello from the README")

        assert browser.wait_for_answer() == "(development upstream, not a real model) You said: Hello from the README"
    finally:
        server.terminate()
        server.wait(timeout=20)
