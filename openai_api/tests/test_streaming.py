"""`stream: true`: server-sent events passed through chunk by chunk, as the upstream sends them."""

from __future__ import annotations

import json
import time

import requests

from accounts.tokens import issue_access_token
from conftest import used_today
from relay.models import UsageRecord


def test_it_streams_to_the_official_sdk_with_usage_when_asked(sdk, user):
    stream = sdk().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Stream me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.endswith("You said: Stream me")
    assert chunks[-1].choices == []
    assert chunks[-1].usage.total_tokens > 0
    assert used_today(user) == 1


def test_it_keeps_the_usage_chunk_from_a_client_that_did_not_ask_but_records_it(sdk, user, dev_upstream):
    chunks = list(
        sdk().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "No usage please"}], stream=True
        )
    )

    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)
    assert dev_upstream.received[-1]["body"]["stream_options"] == {"include_usage": True}
    record = UsageRecord.objects.get(user=user)
    assert (record.stream, record.status_code) == (True, 200)
    assert record.total_tokens > 0


def test_it_sends_each_chunk_as_soon_as_the_upstream_does(gateway, user):
    """Ten chunks 0.3 s apart: the first must reach the client long before the last is produced."""
    started = time.time()
    with requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "slow [dev:chunks=10] [dev:interval=0.3]"}],
        },
        headers={"Authorization": f"Bearer {issue_access_token(user)}"},
        stream=True,
        timeout=20,
    ) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        arrivals = []
        for line in response.iter_lines():
            if line.startswith(b"data: {"):
                arrivals.append((time.time(), json.loads(line[6:])))
            elif line == b"data: [DONE]":
                arrivals.append((time.time(), None))

    assert arrivals[-1][1] is None, "the stream ends with [DONE]"
    contents = [(at, chunk) for at, chunk in arrivals if chunk and chunk["choices"] and chunk["choices"][0]["delta"]]
    assert len(contents) == 10
    first_arrived = contents[0][0]
    last_sent = contents[-1][1]["x_dev_sent_at"]
    assert last_sent - first_arrived > 2.0, "the first chunk came only when the last was ready: buffered"
    assert first_arrived - started < 1.0
