"""`"stream": true`: the reply as server-sent events, over real HTTP against the served gateway."""

from __future__ import annotations

import json
import time

import requests

from accounts.tokens import issue_access_token
from conftest import used_today
from conversations.models import Message
from conversations.tests.helpers import conversation
from relay.models import UsageRecord


def send(gateway, user, chat, content: str, *, headers: dict[str, str] | None = None, **extra) -> requests.Response:
    return requests.post(
        f"{gateway.url}/api/conversations/{chat.pk}/messages/",
        json={"content": content, "stream": True, **extra},
        headers={"Authorization": f"Bearer {issue_access_token(user)}", **(headers or {})},
        stream=True,
        timeout=20,
    )


def events(response: requests.Response) -> list[dict]:
    """The events of a stream, checking that each is one `data:` line followed by a blank line."""
    assert response.text.endswith("\n\n")
    found = []
    for block in response.text.split("\n\n")[:-1]:
        assert block.startswith("data: ")
        assert "\n" not in block
        found.append(json.loads(block[6:]))
    return found


def test_it_streams_the_message_then_deltas_then_done_with_the_kept_reply_and_quota(gateway, user):
    chat = conversation(user)

    with send(gateway, user, chat, "Stream me") as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        assert response.headers["x-ratelimit-remaining-requests"] == "9"
        received = events(response)

    assert received[0]["type"] == "message"
    assert received[0]["message"]["role"] == "user"
    assert received[0]["message"]["content"] == "Stream me"
    deltas = received[1:-1]
    assert deltas
    assert all(set(event) == {"type", "content"} and event["type"] == "delta" for event in deltas)
    done = received[-1]
    assert done["type"] == "done"
    text = "".join(event["content"] for event in deltas)
    assert text.endswith("You said: Stream me")
    assert done["reply"]["content"] == text
    assert done["quota"]["used_today"] == 1
    kept = list(Message.objects.filter(conversation=chat).values_list("id", "role", "content"))
    assert kept == [
        (received[0]["message"]["id"], "user", "Stream me"),
        (done["reply"]["id"], "assistant", text),
    ]
    assert used_today(user) == 1
    record = UsageRecord.objects.get(user=user)
    assert (record.endpoint, record.stream, record.status_code) == ("conversation", True, 200)


def test_it_sends_each_piece_as_soon_as_the_upstream_does(gateway, user):
    chat = conversation(user)
    started = time.time()
    arrivals = []
    with send(gateway, user, chat, "slow [dev:chunks=8] [dev:interval=0.3]") as response:
        for line in response.iter_lines():
            if line.startswith(b"data: "):
                arrivals.append((time.time(), json.loads(line[6:])))

    deltas = [at for at, event in arrivals if event["type"] == "delta"]
    assert len(deltas) == 8
    assert deltas[0] - started < 1.0
    assert deltas[-1] - deltas[0] > 1.5, "the pieces came in one batch: buffered"
