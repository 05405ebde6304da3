"""An open stream holds no database connection: a thousand streams must not need a thousand."""

from __future__ import annotations

import threading

import pytest
import requests
from django.db import connection

from accounts.tokens import issue_access_token

STREAMS = 30


def _connections_to_this_database() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_open_streams_hold_no_database_connection(gateway, make_user):
    if connection.vendor != "postgresql":
        pytest.skip("database connections are counted on PostgreSQL")
    token = str(issue_access_token(make_user("streamer", daily_limit=100)))
    body = {
        "model": "gpt-4o-mini",
        "stream": True,
        "messages": [{"role": "user", "content": "[dev:chunks=30] [dev:interval=0.1]"}],
    }
    started, finish = threading.Barrier(STREAMS + 1, timeout=30), threading.Event()
    statuses: list[int] = []

    def stream() -> None:
        url = f"{gateway.url}/v1/chat/completions"
        with requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=30) as r:
            lines = r.iter_lines()
            next(lines)  # the first chunk: the stream is open
            started.wait()
            finish.wait(timeout=30)
            list(lines)
            statuses.append(r.status_code)

    threads = [threading.Thread(target=stream) for _ in range(STREAMS)]
    for thread in threads:
        thread.start()
    started.wait()
    during = _connections_to_this_database()
    finish.set()
    for thread in threads:
        thread.join(timeout=30)

    pool = connection.settings_dict.get("OPTIONS", {}).get("pool")
    most = pool["max_size"] if pool else 2  # a pool keeps up to its size open, idle between steps
    assert statuses == [200] * STREAMS
    assert during <= most < STREAMS, f"{during} database connections held by {STREAMS} open streams"
