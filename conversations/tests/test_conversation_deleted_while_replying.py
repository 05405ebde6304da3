"""A conversation deleted while its reply is on the way: the reply still reaches the client (the
request counted), and nothing is stored for a conversation that is gone."""

from __future__ import annotations

import threading
import time

import requests
from django.db import connection

from accounts.tokens import issue_access_token
from conftest import used_today
from conversations.models import Conversation, Message
from conversations.tests.helpers import conversation
from conversations.tests.test_streamed_send import events, send


def _delete_soon(chat, seconds: float = 0.4) -> threading.Thread:
    def delete() -> None:
        time.sleep(seconds)
        try:
            Conversation.objects.filter(pk=chat.pk).delete()
        finally:
            connection.close()  # this thread's own connection: give it back (to the pool, on PostgreSQL)

    thread = threading.Thread(target=delete)
    thread.start()
    return thread


def test_a_reply_to_a_deleted_conversation_is_answered_unsaved(gateway, user):
    chat = conversation(user, messages=[("user", "Hi"), ("assistant", "Hello!")])
    deleting = _delete_soon(chat)

    response = requests.post(
        f"{gateway.url}/api/conversations/{chat.pk}/messages/",
        json={"content": "Slowly [dev:delay=1]"},
        headers={"Authorization": f"Bearer {issue_access_token(user)}"},
        timeout=20,
    )
    deleting.join()

    assert response.status_code == 201
    body = response.json()
    assert body["message"]["id"] is None
    assert body["reply"]["id"] is None
    assert body["reply"]["content"].endswith("You said: Slowly")
    assert used_today(user) == 1
    assert not Message.objects.exists()


def test_a_streamed_reply_to_a_deleted_conversation_ends_done_and_unsaved(gateway, user):
    chat = conversation(user)

    with send(gateway, user, chat, "Slowly [dev:chunks=8] [dev:interval=0.15]") as response:
        deleting = _delete_soon(chat, 0.3)
        received = events(response)
    deleting.join()

    assert received[-1]["type"] == "done"
    assert received[-1]["reply"]["id"] is None
    assert used_today(user) == 1
    assert not Message.objects.exists()
