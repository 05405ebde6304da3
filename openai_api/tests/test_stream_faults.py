"""Streams that go wrong: the upstream before or during the stream, and the client going away."""

from __future__ import annotations

import json
import socket
import time

import openai
import pytest
import requests

from accounts.tokens import issue_access_token
from conftest import used_today
from relay.models import UsageRecord


def _stream(sdk, text: str) -> list:
    return list(
        sdk().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}], stream=True)
    )


@pytest.mark.parametrize(
    ("directive", "status"), [("[dev:status=500]", 502), ("[dev:drop]", 502), ("[dev:delay=2]", 504)]
)
def test_an_upstream_failing_before_the_first_chunk_gets_an_error_response_and_costs_nothing(
    sdk, user, settings, directive, status
):
    settings.OPENAI_TIMEOUT = 1.0
    with pytest.raises(openai.APIStatusError) as caught:
        _stream(sdk, directive)

    assert caught.value.status_code == status
    assert used_today(user) == 0
    record = UsageRecord.objects.get(user=user)
    assert (record.stream, record.status_code) == (True, status)


@pytest.mark.parametrize(
    ("directive", "reason"),
    [
        ("[dev:chunks=6] [dev:cut=3]", "upstream_stream_cut"),
        ("[dev:chunks=6] [dev:error_event]", "upstream_stream_error"),
        ("[dev:chunks=6] [dev:stall=3]", "upstream_stream_stalled"),
    ],
)
def test_an_upstream_failing_mid_stream_ends_it_with_an_error_event_and_costs_nothing(
    gateway, user, settings, directive, reason
):
    settings.OPENAI_TIMEOUT = 1.0
    with requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": directive}]},
        headers={"Authorization": f"Bearer {issue_access_token(user)}"},
        stream=True,
        timeout=20,
    ) as response:
        assert response.status_code == 200
        events = [line for line in response.iter_lines() if line.startswith(b"data: ")]

    last = json.loads(events[-1][6:])
    assert last["error"]["type"] == "server_error"
    assert last["error"]["code"] == reason
    assert b"data: [DONE]" not in events
    assert used_today(user) == 0
    assert UsageRecord.objects.get(user=user).error == reason


def test_the_sdk_raises_on_a_stream_that_fails_midway(sdk, user):
    with pytest.raises(openai.APIError, match="upstream"):
        _stream(sdk, "[dev:chunks=6] [dev:cut=3]")


def test_a_client_leaving_mid_stream_closes_the_upstream_request_and_counts(gateway, user, dev_upstream):
    abandoned_before = dev_upstream.streams_abandoned
    body = json.dumps(
        {
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "long [dev:chunks=40] [dev:interval=0.1]"}],
        }
    ).encode()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as client:
        client.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {issue_access_token(user)}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        received = b""
        while b"data: {" not in received:  # until the first chunk has arrived; then hang up
            chunk = client.recv(65536)
            assert chunk, f"the gateway closed the stream early: {received!r}"
            received += chunk

    deadline = time.monotonic() + 10
    while not UsageRecord.objects.filter(user=user).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    record = UsageRecord.objects.get(user=user)
    assert (record.status_code, record.error) == (499, "client_disconnected")
    assert used_today(user) == 1
    while dev_upstream.streams_abandoned == abandoned_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dev_upstream.streams_abandoned == abandoned_before + 1, "the upstream stream was left running"


def test_a_client_leaving_before_the_answer_still_counts_and_is_recorded(gateway, user):
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "[dev:delay=1]"}]}).encode()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as client:
        client.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {issue_access_token(user)}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        time.sleep(0.3)  # the upstream has been asked; hang up before it answers

    deadline = time.monotonic() + 10
    while not UsageRecord.objects.filter(user=user).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert UsageRecord.objects.get(user=user).status_code == 499
    assert used_today(user) == 1


def test_a_retried_stream_still_gets_the_full_timeout_for_each_pause(sdk, user, settings):
    """The opening used part of OPENAI_TIMEOUT on a retry; the pauses inside the stream get all of it."""
    settings.OPENAI_TIMEOUT = 1.6
    settings.OPENAI_MAX_RETRIES = 1
    text = f"retried {time.monotonic()} [dev:flaky=1] [dev:chunks=4] [dev:stall=1.1]"

    chunks = _stream(sdk, text)

    assert chunks[-1].choices[0].finish_reason == "stop"
    assert used_today(user) == 1


def test_a_stream_still_running_at_the_longest_a_request_may_last_is_ended_and_counts_what_it_sent(
    gateway, user, settings
):
    # So that no request outlives its reservation's lease (quota/leases.py), whose expiry assumes this bound.
    settings.CHATGATEWAY_MAX_REQUEST_SECONDS = 1.0
    started = time.monotonic()
    with requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "stream": True,
              "messages": [{"role": "user", "content": "[dev:chunks=40] [dev:interval=0.1] go on"}]},
        headers={"Authorization": f"Bearer {issue_access_token(user)}"},
        stream=True,
        timeout=20,
    ) as response:  # fmt: skip
        events = [line for line in response.iter_lines() if line.startswith(b"data: ")]

    assert 1.0 <= time.monotonic() - started < 3.0, "ended at the limit, not at the answer's end (4 s)"
    assert json.loads(events[-1][6:])["error"]["code"] == "max_request_duration"
    assert 5 <= len(events) - 1 < 40
    assert used_today(user) == 1
    record = UsageRecord.objects.get(user=user)
    assert (record.status_code, record.error) == (504, "max_request_duration")
    assert record.completion_tokens > 0, "what was sent counts"
