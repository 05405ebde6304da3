"""An open conversation stream holds no database connection, as an open /v1 stream holds none."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from django.db import connection

from accounts.tokens import issue_access_token
from conversations.tests.helpers import conversation

STREAMS = 20


def _connections_in_use() -> int:
    """Connections the server's requests hold now: taken from the pool and not given back, and asked
    for while none was free (the server runs in this process, so this is its pool)."""
    stats = connection.pool.get_stats()
    return stats["pool_size"] - stats["pool_available"] + stats.get("requests_waiting", 0)


def _fewest_in_use(samples: int = 5) -> int:
    """The fewest in use at a few moments: a database step of some request may hold one briefly, but
    connections held by open streams show in every sample."""
    counts = []
    for _ in range(samples):
        counts.append(_connections_in_use())
        time.sleep(0.1)
    return min(counts)


def test_open_conversation_streams_hold_no_database_connection(gateway, make_user):
    if connection.vendor != "postgresql" or not connection.settings_dict.get("OPTIONS", {}).get("pool"):
        pytest.skip("database connections are counted in PostgreSQL's pool")
    user = make_user("streamer", daily_limit=100)
    token = str(issue_access_token(user))
    chats = [conversation(user, messages=[("user", "Hi"), ("assistant", "Hello!")]) for _ in range(STREAMS)]
    body = {"content": "[dev:chunks=30] [dev:interval=0.1]", "stream": True}
    before = _fewest_in_use()  # the test's own connection, and any other test's left in the pool's count
    started, finish = threading.Barrier(STREAMS + 1, timeout=30), threading.Event()
    ends: list[str] = []

    def stream(chat) -> None:
        url = f"{gateway.url}/api/conversations/{chat.pk}/messages/"
        with requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=30) as r:
            lines = (line for line in r.iter_lines() if line)
            next(lines)  # the user's message: the stream is open
            next(lines)  # the first piece of the reply
            started.wait()
            finish.wait(timeout=30)
            ends.append([line for line in lines][-1][:22].decode())

    threads = [threading.Thread(target=stream, args=(chat,)) for chat in chats]
    for thread in threads:
        thread.start()
    started.wait()
    during = _fewest_in_use()
    finish.set()
    for thread in threads:
        thread.join(timeout=30)

    assert ends == ['data: {"type": "done",'] * STREAMS
    # At most one step of a request in flight at that moment.
    assert during - before <= 1, f"{during - before} database connections held by {STREAMS} open streams"
