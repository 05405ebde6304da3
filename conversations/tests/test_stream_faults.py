"""Streamed replies that go wrong after the stream started: the upstream failing midway (refunded,
nothing kept) and the client going away (it counts, and the reply so far is kept)."""

from __future__ import annotations

import json
import socket
import time

import pytest

from accounts.tokens import issue_access_token
from conftest import used_today
from conversations.models import Conversation, Message
from conversations.tests.helpers import conversation
from conversations.tests.test_streamed_send import events, send
from relay.models import UsageRecord

HISTORY = [("user", "Hi"), ("assistant", "Hello!")]


@pytest.mark.parametrize(
    ("directive", "reason"),
    [
        ("[dev:chunks=6] [dev:cut=3]", "upstream_stream_cut"),
        ("[dev:chunks=6] [dev:error_event]", "upstream_stream_error"),
        ("[dev:chunks=6] [dev:stall=3]", "upstream_stream_stalled"),
    ],
)
def test_an_upstream_failing_midway_ends_the_stream_with_an_error_event_refunds_and_keeps_nothing(
    gateway, user, settings, directive, reason
):
    settings.OPENAI_TIMEOUT = 1.0
    chat = conversation(user, messages=HISTORY)

    with send(gateway, user, chat, f"Break {directive}") as response:
        assert response.status_code == 200
        received = events(response)

    assert received[0]["type"] == "message"
    assert any(event["type"] == "delta" for event in received)
    assert received[-1]["type"] == "error"
    assert received[-1]["error"]["code"] == reason
    assert received[-1]["error"]["message"].startswith("The upstream model service")
    assert "dev_fault" not in json.dumps(received)
    assert used_today(user) == 0
    record = UsageRecord.objects.get(user=user)
    assert (record.endpoint, record.stream, record.error) == ("conversation", True, reason)
    assert list(Message.objects.filter(conversation=chat).values_list("role", "content")) == HISTORY
    assert Conversation.objects.get(pk=chat.pk).title == ""


def _raw_send(port: int, user, chat, content: str) -> socket.socket:
    body = json.dumps({"content": content, "stream": True}).encode()
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.sendall(
        f"POST /api/conversations/{chat.pk}/messages/ HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
        + b"Content-Type: application/json\r\n"
        + f"Authorization: Bearer {issue_access_token(user)}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return client


def _wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_client_leaving_midway_is_charged_and_keeps_its_message_and_the_reply_so_far(gateway, user, dev_upstream):
    abandoned_before = dev_upstream.streams_abandoned
    chat = conversation(user, messages=HISTORY)
    with _raw_send(gateway.port, user, chat, "long [dev:chunks=40] [dev:interval=0.1]") as client:
        received = b""
        while received.count(b'"type": "delta"') < 3:  # three pieces of the reply; then hang up
            chunk = client.recv(65536)
            assert chunk, f"the gateway closed the stream early: {received!r}"
            received += chunk

    _wait_for(lambda: Message.objects.filter(conversation=chat).count() == 4)
    _wait_for(lambda: dev_upstream.streams_abandoned > abandoned_before)
    record = UsageRecord.objects.get(user=user)
    assert (record.status_code, record.error) == (499, "client_disconnected")
    assert used_today(user) == 1
    message, reply = Message.objects.filter(conversation=chat).order_by("id")[2:]
    assert (message.role, message.content) == ("user", "long [dev:chunks=40] [dev:interval=0.1]")
    assert reply.role == "assistant"
    assert reply.content.startswith("(development upstream")
    assert "word37" not in reply.content, "the whole reply was kept: the upstream was not closed"
    assert dev_upstream.streams_abandoned == abandoned_before + 1, "the upstream stream was left running"
    assert Conversation.objects.get(pk=chat.pk).title == "long [dev:chunks=40] [dev:interval=0.1]"


def test_a_client_leaving_before_the_stream_body_starts_is_charged_and_keeps_its_message(
    gateway, user, dev_upstream, monkeypatch
):
    """The window between the view's return and Django starting the body: the body's own `finally`
    never runs, so the request-end callbacks must settle the request and keep the message."""
    import conversations.views as views

    holder: dict = {}
    real = views.rate_limit_headers

    def headers_then_hang_up(allowance):
        holder["client"].shutdown(socket.SHUT_RDWR)
        holder["client"].close()
        time.sleep(0.05)  # let the server's loop see the EOF
        return real(allowance)

    monkeypatch.setattr(views, "rate_limit_headers", headers_then_hang_up)
    chat = conversation(user, messages=HISTORY)
    holder["client"] = _raw_send(gateway.port, user, chat, "hi [dev:chunks=30] [dev:interval=0.1]")

    _wait_for(lambda: UsageRecord.objects.filter(user=user).exists())
    time.sleep(0.5)  # the message is kept after the record: give it the time
    assert list(UsageRecord.objects.values_list("status_code", "error")) == [(499, "client_disconnected")]
    assert used_today(user) == 1
    kept = list(Message.objects.filter(conversation=chat).values_list("role", "content"))
    assert kept[:3] == [*HISTORY, ("user", "hi [dev:chunks=30] [dev:interval=0.1]")]
    # Django may still have started the body and taken the first piece before it saw the client go.
    assert kept[3:] in ([], [("assistant", "(development")])
