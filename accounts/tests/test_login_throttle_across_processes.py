"""The login throttle holds across server processes (its counts live in the database, not in a process)
and against a burst of parallel guesses, while parallel right passwords all get in; it counts the client
address uvicorn believes, a trusted proxy's X-Forwarded-For included (FORWARDED_ALLOW_IPS)."""

from __future__ import annotations

import functools
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
            "for name in ['ada', 'bob', 'cy', 'dee']: User.objects.create_user(name, password='right-password-1')\n"
            "from django.contrib.auth.hashers import make_password\n"
            "hashed = make_password('right-password-1')  # hashed once: the students share a password\n"
            "for n in range(20): User.objects.create(username=f'student{n}', password=hashed)"
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


def parallel(calls: list) -> list:
    """Run `calls` at the same moment, each in a thread of its own (a real client each); their results."""
    barrier = threading.Barrier(len(calls))
    results: list = []

    def one(call) -> None:
        barrier.wait()
        results.append(call())

    threads = [threading.Thread(target=one, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return results


def login(url: str, username: str, address: str) -> tuple[int, dict]:
    body = {"u": username, "p": "right-password-1"}
    answer = requests.post(f"{url}/token", json=body, headers={"X-Forwarded-For": address}, timeout=120)
    return answer.status_code, answer.json()["message"]


def test_twenty_users_with_right_passwords_logging_in_at_once_from_one_address_all_get_their_token(two_servers):
    # A classroom behind one NAT: only failures count, so right passwords in flight take nothing.
    calls = [functools.partial(login, two_servers[n % 2], f"student{n}", "192.0.2.50") for n in range(20)]

    answers = parallel(calls)

    assert [status for status, _ in answers] == [201] * 20
    assert sorted(message["username"] for _, message in answers) == sorted(f"student{n}" for n in range(20))
    assert all(message["token"].count(".") == 2 for _, message in answers)


def test_a_right_password_in_a_burst_of_wrong_guesses_gets_in_only_while_failures_are_left(two_servers):
    # However many guesses arrive at once, at most five are answered "wrong" (401) and the right one is let
    # in only before the fifth failure: a 429 says nothing about the password.
    calls = [functools.partial(guess, server, username="dee", address="192.0.2.60") for server in two_servers * 10]
    calls[7] = functools.partial(
        guess, two_servers[1], username="dee", password="right-password-1", address="192.0.2.60"
    )

    statuses = Counter(parallel(calls))

    assert statuses[401] == 5
    assert statuses[201] <= 1
    assert statuses[401] + statuses[201] + statuses[429] == 20


def test_the_address_is_the_one_a_trusted_proxy_forwarded(two_servers):
    first, _ = two_servers
    for name in ["u1", "u2", "u3", "u4", "u5"]:
        guess(first, username=name, address="192.0.2.7")

    assert guess(first, username="u6", address="192.0.2.7") == 429
    assert guess(first, username="cy", password="right-password-1", address="192.0.2.8") == 201
