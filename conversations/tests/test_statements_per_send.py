"""A message costs a fixed number of database statements, however long the conversation."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.tests.helpers import conversation


@pytest.fixture(autouse=True)
def reset_already_done_today(api):
    api.get("/api/quota/")  # the first request of the day runs the daily reset; later ones don't


def _statements(queries) -> list[str]:
    # Inside the test's transaction, atomic() blocks become savepoints: not round trips in production.
    return [query["sql"].split()[0] for query in queries.captured_queries if "SAVEPOINT" not in query["sql"]]


@pytest.mark.parametrize("history", [0, 60])
def test_a_message_takes_fourteen_statements_whatever_the_history(api, user, history):
    chat = conversation(user, messages=[("user", "question"), ("assistant", "answer")] * (history // 2))
    path = f"/api/conversations/{chat.pk}/messages/"

    with CaptureQueriesContext(connection) as queries:
        assert api.post(path, {"content": "hi"}, format="json").status_code == 201

    assert _statements(queries) == [
        "SELECT",  # the access stamp: the user (JWT) from the process's cache while it is unchanged
        "SELECT",  # the conversation, the user's own
        "SELECT",  # its newest messages, as many as may be sent
        "SELECT",  # the access stamp again: the team it draws on and the limits in force (none) from the cache
        "SELECT",  # the quota row, locked
        "UPDATE",  # ... and taken from
        "INSERT",  # ... as a lease
        "UPDATE",  # the settlement
        "DELETE",  # the lease ended
        "INSERT",  # the usage record
        "UPDATE",  # the conversation: its last activity, and its title
        "INSERT",  # the message and the reply
        "SELECT",  # the access stamp: the team the quota in the answer is read for, and its limits, cached
        "SELECT",  # the quota in the answer
    ]
