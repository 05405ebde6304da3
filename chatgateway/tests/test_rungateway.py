"""`make run`'s server command, for real: with no OPENAI_API_KEY it starts the development upstream,
says so, and serves the demo users' questions through it."""

import os
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings

from devtools.testing import free_port, wait_until_healthy


@pytest.fixture
def fresh_environment(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "DJANGO_SUPER"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}",
        PORT=str(free_port()),
        DEV_UPSTREAM_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
    )
    env.pop("DEBUG", None)
    return env


def manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, check=True, capture_output=True, text=True
    )


def test_make_runs_server_answers_through_the_development_upstream_and_says_so(fresh_environment, tmp_path):
    env = fresh_environment
    manage(env, "migrate", "--noinput", "-v0")
    assert "Loaded demo users" in manage(env, "setup_users").stdout
    log = (tmp_path / "run.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "rungateway", "--noreload"],
        cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_until_healthy(base, process=server, seconds=30)
        token = requests.post(f"{base}/token", json={"u": "alice", "p": "alice-demo-1"}, timeout=10).json()
        answer = requests.get(
            f"{base}/api",
            params={"q": "ping"},
            headers={"Authorization": f"Bearer {token['message']['token']}"},
            timeout=10,
        )
    finally:
        server.terminate()
        server.wait(timeout=20)
    log.seek(0)
    output = log.read()

    assert answer.status_code == 200, answer.text
    assert "not a real model" in answer.json()["message"]
    assert "DEVELOPMENT UPSTREAM" in output
    assert f"127.0.0.1:{env['DEV_UPSTREAM_PORT']}" in output
    _wait_for_port_free(int(env["DEV_UPSTREAM_PORT"]))


def _wait_for_port_free(port: int) -> None:
    """The development upstream ends with the server that started it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/v1/models", timeout=0.5)
        except requests.ConnectionError:
            return
        time.sleep(0.2)
    raise AssertionError(f"the development upstream on port {port} outlived the gateway")
