"""A conversation's messages to clients built on SSE libraries, which send `Accept: text/event-stream`
alone: streamed as server-sent events, answered in JSON when not streamed, credentials checked first."""

from __future__ import annotations

import pytest
import requests

from accounts.tokens import issue_access_token
from conversations.tests.helpers import conversation
from conversations.tests.test_streamed_send import events


def send(gateway, chat, credential: str, accept: str, *, stream: bool) -> requests.Response:
    return requests.post(
        f"{gateway.url}/api/conversations/{chat.pk}/messages/",
        json={"content": "Stream me", "stream": stream},
        headers={"Authorization": f"Bearer {credential}", "Accept": accept},
        timeout=20,
    )


@pytest.mark.parametrize(
    "accept",
    [
        "text/event-stream",
        "text/event-stream; charset=utf-8",
        "text/event-stream, application/json",
        "text/event-stream;q=0.5",
    ],
)
def test_it_streams_the_reply_to_a_client_that_accepts_only_event_streams(gateway, user, accept):
    response = send(gateway, conversation(user), issue_access_token(user), accept, stream=True)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert [event["type"] for event in events(response)][-1] == "done"


def test_it_answers_a_message_not_streamed_in_json_to_a_client_that_accepts_only_event_streams(gateway, user):
    response = send(gateway, conversation(user), issue_access_token(user), "text/event-stream", stream=False)

    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["reply"]["content"].endswith("You said: Stream me")


def test_it_refuses_a_wrong_key_with_401_not_406_when_only_event_streams_are_accepted(gateway, user):
    response = send(gateway, conversation(user), "sk-" + "x" * 48, "text/event-stream", stream=True)

    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert "detail" in response.json()
