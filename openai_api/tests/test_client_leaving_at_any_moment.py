"""A client that goes away at any moment of a /v1 request leaves no half-state: the request is either
given back, or counted with a record; a budget is never left reserved until midnight."""

from __future__ import annotations

import json
import socket
import sqlite3
import time

import pytest
import requests
from django.db import connection

from accounts.tokens import issue_access_token
from quota.models import Quota
from relay.models import UsageRecord

SLOW = "hi [dev:chunks=30] [dev:interval=0.1]"


@pytest.fixture
def token_limited(user):
    Quota.objects.filter(user=user).update(daily_limit=5, daily_token_limit=1000)
    return user


def _raw_request(port: int, user, payload: dict) -> socket.socket:
    body = json.dumps(payload).encode()
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {issue_access_token(user)}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return client


def _warm_up(gateway, user):
    # Let the daily reset middleware run its once-a-day UPDATE now, not under our lock.
    headers = {"Authorization": f"Bearer {issue_access_token(user)}"}
    assert requests.get(f"{gateway.url}/v1/models", headers=headers, timeout=10).status_code == 200


@pytest.mark.skipif("connection.vendor != 'sqlite'")
@pytest.mark.parametrize("stream", [False, True])
def test_a_client_leaving_while_its_reservation_waits_for_the_lock_leaves_no_half_state(
    gateway, token_limited, dev_upstream, stream
):
    """A client that gives up while its request queues for the quota row (busy gateway) must not be
    charged a request and must not leave a budget reserved until midnight."""
    _warm_up(gateway, token_limited)
    locker = sqlite3.connect(connection.settings_dict["NAME"], timeout=1, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another writer holds the database (a reservation in progress)
    try:
        client = _raw_request(
            gateway.port,
            token_limited,
            {
                "model": "gpt-4o-mini",
                "stream": stream,
                "max_tokens": 300,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
        time.sleep(0.5)
        client.close()  # the client times out and leaves
        time.sleep(0.3)
    finally:
        locker.execute("COMMIT")
        locker.close()
    time.sleep(1.5)

    quota = Quota.objects.get(user=token_limited)
    # Either refunded, or counted AND recorded AND budget released: never a silent half-state.
    assert quota.tokens_reserved == 0, "the 300-token budget stays reserved until midnight"
    assert quota.used == UsageRecord.objects.filter(user=token_limited).count(), "charged without a record"


def test_a_client_leaving_before_the_stream_body_starts_is_settled_and_recorded(
    gateway, token_limited, dev_upstream, monkeypatch
):
    """Disconnect in the window between open_completion_stream returning and Django iterating the body
    (the response still passes through the middlewares' sync_to_async hops): the generator never starts,
    so its finally never runs."""
    import openai_api.views as views

    holder: dict = {}
    real = views.rate_limit_headers

    def headers_then_hang_up(allowance):
        holder["client"].shutdown(socket.SHUT_RDWR)  # the client goes away right now
        holder["client"].close()
        time.sleep(0.05)  # let the server's loop see the EOF
        return real(allowance)

    monkeypatch.setattr(views, "rate_limit_headers", headers_then_hang_up)
    _warm_up(gateway, token_limited)
    monkeypatch.setattr(views, "rate_limit_headers", headers_then_hang_up)
    holder["client"] = _raw_request(
        gateway.port,
        token_limited,
        {
            "model": "gpt-4o-mini",
            "stream": True,
            "max_tokens": 300,
            "messages": [{"role": "user", "content": "hi [dev:chunks=30] [dev:interval=0.1]"}],
        },
    )
    time.sleep(5)

    quota = Quota.objects.get(user=token_limited)
    records = list(UsageRecord.objects.values_list("status_code", "error"))
    assert quota.tokens_reserved == 0, "budget leaked until midnight"
    assert records == [(499, "client_disconnected")], "the upstream was asked (and bills): it counts, recorded"
    assert quota.used == 1


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_client_leaving_while_its_reservation_waits_for_the_row_lock_on_postgresql(
    gateway, token_limited, dev_upstream
):
    import psycopg

    _warm_up(gateway, token_limited)
    s = connection.settings_dict
    with psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], dbname=s["NAME"]) as locker:
        locker.execute("SELECT 1 FROM quota_quota WHERE user_id = %s FOR UPDATE", [token_limited.pk])
        client = _raw_request(
            gateway.port,
            token_limited,
            {"model": "gpt-4o-mini", "max_tokens": 300, "messages": [{"role": "user", "content": "hi"}]},
        )
        time.sleep(0.5)
        client.close()
        time.sleep(0.3)
        locker.commit()
    time.sleep(1.5)
    quota = Quota.objects.get(user=token_limited)
    assert quota.tokens_reserved == 0
    assert quota.used == UsageRecord.objects.filter(user=token_limited).count()
