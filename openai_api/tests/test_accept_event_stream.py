"""Clients built on SSE libraries send `Accept: text/event-stream` (and only that): `/v1` takes it,
streams back `text/event-stream`, answers the rest in JSON, and checks credentials first."""

from __future__ import annotations

import json

import pytest
import requests

from accounts.tokens import issue_access_token

EVENT_STREAM_ACCEPTS = [
    "text/event-stream",
    "text/event-stream; charset=utf-8",
    "text/event-stream, application/json",
    "application/json;q=0.5, text/event-stream;q=1.0",
    "text/event-stream;q=0.9",
]


def post_chat(gateway, credential: str, accept: str, *, stream: bool) -> requests.Response:
    return requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": "Hi"}]},
        headers={"Authorization": f"Bearer {credential}", "Accept": accept},
        timeout=20,
    )


def streamed_text(response: requests.Response) -> str:
    """The answer's text, put together from the stream's chunks."""
    chunks = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]
    return "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks if chunk["choices"])


@pytest.mark.parametrize("accept", EVENT_STREAM_ACCEPTS)
def test_it_streams_to_a_client_that_accepts_only_event_streams(gateway, user, accept):
    response = post_chat(gateway, issue_access_token(user), accept, stream=True)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.text.endswith("data: [DONE]\n\n")
    assert streamed_text(response).endswith("You said: Hi")


@pytest.mark.parametrize("accept", EVENT_STREAM_ACCEPTS)
def test_it_answers_a_non_streamed_request_in_json_whatever_event_stream_accept_says(gateway, user, accept):
    response = post_chat(gateway, issue_access_token(user), accept, stream=False)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["choices"][0]["message"]["content"].endswith("You said: Hi")


@pytest.mark.parametrize("accept", ["text/event-stream", "text/event-stream; charset=utf-8"])
def test_it_refuses_a_wrong_key_with_401_not_406_when_only_event_streams_are_accepted(gateway, user, accept):
    response = post_chat(gateway, "sk-" + "x" * 48, accept, stream=True)

    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_it_lists_the_models_to_a_client_that_accepts_only_event_streams(gateway, user):
    response = requests.get(
        f"{gateway.url}/v1/models",
        headers={"Authorization": f"Bearer {issue_access_token(user)}", "Accept": "text/event-stream"},
        timeout=20,
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["object"] == "list"


def test_it_still_refuses_a_client_that_accepts_neither_json_nor_event_streams(gateway, user):
    response = requests.get(
        f"{gateway.url}/v1/models",
        headers={"Authorization": f"Bearer {issue_access_token(user)}", "Accept": "image/png"},
        timeout=20,
    )

    assert response.status_code == 406


WRONG_KEY_AND_NO_RENDERER = {"Authorization": "Bearer sk-" + "x" * 48, "Accept": "image/png"}


def test_it_checks_the_key_before_the_accept_header_on_chat_completions(gateway):
    response = requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
        headers=WRONG_KEY_AND_NO_RENDERER,
        timeout=20,
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_it_checks_the_key_before_the_accept_header_on_models(gateway):
    response = requests.get(f"{gateway.url}/v1/models", headers=WRONG_KEY_AND_NO_RENDERER, timeout=20)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("path", "body", "ends_with"),
    [
        ("/v1/completions", {"model": "gpt-4o-mini", "prompt": "Hi"}, "data: [DONE]\n\n"),
        ("/v1/responses", {"model": "gpt-4o-mini", "input": "Hi"}, None),
    ],
    ids=["completions", "responses"],
)
def test_every_other_streaming_endpoint_streams_to_a_client_that_accepts_only_event_streams(
    gateway, user, path, body, ends_with
):
    response = requests.post(
        f"{gateway.url}{path}",
        json={**body, "stream": True},
        headers={"Authorization": f"Bearer {issue_access_token(user)}", "Accept": "text/event-stream"},
        timeout=20,
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    if ends_with is not None:
        assert response.text.endswith(ends_with)
    else:  # the Responses API's typed events, ending with the completed response
        assert "event: response.completed" in response.text
