"""The login throttle holds across server processes (its counts live in the database, not in a process)
and against a burst of parallel guesses; it counts the client address uvicorn believes, a trusted
proxy's X-Forwarded-For included (FORWARDED_ALLOW_IPS)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter

import pytest
import requests
from django.conf import settings

from devtools.testing import GatewayServer, free_port, wait_until_healthy


def guess(url: str, *, username: str = "ada", password: str = "wrong", address: str = "203.0.113.5") -> int:  # noqa: S107
    body = {"u": username, "p": password}
    return requests.post(f"{url}/token", json=body, headers={"X-Forwarded-For": address}, timeout=60).status_code


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory, dev_upstream):
    """Two separate uvicorn processes serving one database, each on its own port (each test below uses
    usernames and addresses of its own)."""
    tmp_path = tmp_path_factory.mktemp("servers")
    with GatewayServer(
        tmp_path=tmp_path, upstream_url=dev_upstream.url, upstream_key=dev_upstream.key, workers=1
    ) as one:
        one.python(
            "from accounts.models import User\n"
            "for name in ['ada', 'bob', 'cy']: User.objects.create_user(name, password='right-password-1')"
        )
        port = free_port()
        other = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "chatgateway.asgi:application", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"],
            cwd=settings.BASE_DIR, env=one.env,
        )  # fmt: skip
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}", process=other)
            yield one.url, f"http://127.0.0.1:{port}"
        finally:
            other.terminate()
            other.wait(timeout=30)


def test_failures_on_one_server_process_lock_the_username_on_another(two_servers):
    first, second = two_servers
    statuses = [guess(first if attempt % 2 else second, address=f"198.51.100.{attempt}") for attempt in range(5)]

    assert statuses == [401] * 5
    assert guess(second, password="right-password-1", address="198.51.100.99") == 429
    assert guess(first, password="right-password-1", address="198.51.100.99") == 429


def test_twenty_parallel_guesses_get_exactly_five_tries(two_servers):
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def one(server: str) -> None:
        barrier.wait()
        statuses.append(guess(server, username="bob", address="192.0.2.1"))

    threads = [threading.Thread(target=one, args=(server,)) for server in two_servers * 10]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Counter(statuses) == Counter({401: 5, 429: 15})


def test_the_address_is_the_one_a_trusted_proxy_forwarded(two_servers):
    first, _ = two_servers
    for name in ["u1", "u2", "u3", "u4", "u5"]:
        guess(first, username=name, address="192.0.2.7")

    assert guess(first, username="u6", address="192.0.2.7") == 429
    assert guess(first, username="cy", password="right-password-1", address="192.0.2.8") == 201
