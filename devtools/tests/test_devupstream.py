"""The development upstream's own behaviour: stream shapes, stream faults and connection accounting.

Spoken to over plain HTTP (http.client, requests), not through the gateway, so that what arrives on the wire,
and when, is what is tested.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from http.client import HTTPConnection, HTTPResponse

import pytest
import requests

from devtools.devupstream import NOTICE, DevUpstream


@pytest.fixture
def own_upstream() -> Iterator[DevUpstream]:
    """A private upstream, whose connection count no other test's kept-alive client can move."""
    upstream = DevUpstream().start()
    yield upstream
    upstream.stop()


def open_chat(upstream: DevUpstream, content: str, **fields) -> tuple[HTTPConnection, HTTPResponse]:
    connection = HTTPConnection("127.0.0.1", upstream.port, timeout=5)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], "stream": True, **fields}
    headers = {"Authorization": f"Bearer {upstream.key}", "Content-Type": "application/json"}
    connection.request("POST", "/v1/chat/completions", body=json.dumps(body), headers=headers)
    return connection, connection.getresponse()


def events(response: HTTPResponse) -> Iterator[tuple[float, str]]:
    """Each SSE `data:` payload with the time it arrived, as it arrives."""
    while line := response.readline():
        if line.startswith(b"data: "):
            yield time.time(), line[len(b"data: ") :].decode().strip()


def hang_up(connection: HTTPConnection, response: HTTPResponse) -> None:
    """Close the socket: a streamed response owns it once the connection has handed it over."""
    response.close()
    connection.close()


def stream(upstream: DevUpstream, content: str, **fields) -> list[tuple[float, str]]:
    connection, response = open_chat(upstream, content, **fields)
    try:
        return list(events(response))
    finally:
        hang_up(connection, response)


def content_chunks(received: list[tuple[float, str]]) -> list[dict]:
    chunks = [json.loads(data) for _, data in received if data != "[DONE]"]
    return [chunk for chunk in chunks if chunk.get("choices") and "content" in chunk["choices"][0]["delta"]]


def unstreamed(upstream: DevUpstream, content: str, **fields) -> dict:
    response = requests.post(
        f"{upstream.url}/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **fields},
        headers={"Authorization": f"Bearer {upstream.key}"},
        timeout=5,
    )
    assert response.status_code == 200
    return response.json()


def eventually(check: Callable[[], bool], *, within: float = 2.0) -> bool:
    """Whether `check` comes true within `within` seconds: the upstream's threads notice a closed socket late."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_it_streams_exactly_the_chunks_asked_for_one_at_a_time(dev_upstream):
    received = stream(dev_upstream, "hi [dev:chunks=12] [dev:interval=0.05]")

    chunks = content_chunks(received)
    assert len(chunks) == 12
    assert [chunk["choices"][0]["delta"]["content"] for chunk in chunks][-3:] == [" word1", " word2", " word3"]
    first_arrived = received[0][0]
    assert first_arrived < chunks[-1]["x_dev_sent_at"] - 0.25
    assert received[-1][1] == "[DONE]"


def test_it_spaces_the_chunks_by_the_interval(dev_upstream):
    started = time.monotonic()
    received = stream(dev_upstream, "hi [dev:chunks=6] [dev:interval=0.05]")

    assert time.monotonic() - started >= 6 * 0.05
    sent = [chunk["x_dev_sent_at"] for chunk in content_chunks(received)]
    assert all(later - earlier >= 0.04 for earlier, later in itertools.pairwise(sent))


def test_it_stamps_every_streamed_chunk_with_its_send_time(dev_upstream):
    before = time.time()
    received = stream(dev_upstream, "hi", stream_options={"include_usage": True})

    chunks = [json.loads(data) for _, data in received if data != "[DONE]"]
    assert len(chunks) > 2
    assert all(before <= chunk["x_dev_sent_at"] <= time.time() for chunk in chunks)


def test_it_joins_surplus_words_into_the_last_chunk(dev_upstream):
    received = stream(dev_upstream, "one two three four five [dev:chunks=3]")

    text = "".join(chunk["choices"][0]["delta"]["content"] for chunk in content_chunks(received))
    assert len(content_chunks(received)) == 3
    assert text == f"{NOTICE} You said: one two three four five"


def test_it_answers_unstreamed_with_the_same_text_as_the_stream(dev_upstream):
    received = stream(dev_upstream, "hi [dev:chunks=16]")
    answer = unstreamed(dev_upstream, "hi [dev:chunks=16]")

    streamed_text = "".join(chunk["choices"][0]["delta"]["content"] for chunk in content_chunks(received))
    assert answer["choices"][0]["message"]["content"] == streamed_text
    assert streamed_text.endswith(" word7")


def test_it_delays_an_unstreamed_answer_by_chunks_times_interval(dev_upstream):
    started = time.monotonic()
    unstreamed(dev_upstream, "hi [dev:chunks=4] [dev:interval=0.05]")

    assert time.monotonic() - started >= 4 * 0.05


def test_it_cuts_a_stream_without_finish_or_done(dev_upstream):
    connection, response = open_chat(dev_upstream, "hi [dev:chunks=10] [dev:cut=3]")
    received: list[tuple[float, str]] = []

    with pytest.raises(ConnectionResetError):
        received.extend(events(response))
    hang_up(connection, response)

    assert len(content_chunks(received)) == 3
    assert len(received) == 3  # no finish chunk, no usage, no [DONE]


def test_it_stalls_a_stream_after_its_first_chunk_then_carries_on(dev_upstream):
    received = stream(dev_upstream, "hi [dev:stall=0.3]")

    assert received[1][0] - received[0][0] >= 0.25
    assert received[-1][1] == "[DONE]"
    assert json.loads(received[-2][1])["choices"][0]["finish_reason"] == "stop"


def test_it_ends_a_stream_with_an_error_event(dev_upstream):
    received = stream(dev_upstream, "hi [dev:error_event]", stream_options={"include_usage": True})

    assert len(received) == 3
    assert len(content_chunks(received[:2])) == 2
    error = json.loads(received[2][1])
    assert error == {
        "error": {"message": error["error"]["message"], "type": "server_error", "param": None, "code": "dev_fault"}
    }


@pytest.mark.parametrize("include_usage", [True, False])
def test_it_sends_a_usage_chunk_only_when_asked(dev_upstream, include_usage):
    received = stream(dev_upstream, "hi", stream_options={"include_usage": include_usage})

    usages = [json.loads(data)["usage"] for _, data in received if data != "[DONE]" and "usage" in json.loads(data)]
    assert len(usages) == (1 if include_usage else 0)
    if include_usage:
        assert usages[0]["total_tokens"] == usages[0]["prompt_tokens"] + usages[0]["completion_tokens"]


def test_it_reports_no_usage_when_told_to_even_if_asked(dev_upstream):
    received = stream(dev_upstream, "hi [dev:nousage]", stream_options={"include_usage": True})
    answer = unstreamed(dev_upstream, "hi [dev:nousage]")

    assert not any("usage" in json.loads(data) for _, data in received if data != "[DONE]")
    assert received[-1][1] == "[DONE]"
    assert "usage" not in answer
    assert "usage" in unstreamed(dev_upstream, "hi")


def test_it_applies_shaping_directives_set_for_every_request(dev_upstream):
    requests.post(f"http://127.0.0.1:{dev_upstream.port}/_dev/fault", json={"fault": "[dev:chunks=5]"}, timeout=5)

    assert len(content_chunks(stream(dev_upstream, "hi"))) == 5


# --- completion caps: an upstream that honours them, so that token-limit figures are a real model's --------
CAPS = ["max_tokens", "max_completion_tokens", "max_output_tokens"]
LONG = "one two three four five six seven eight nine ten"  # the answer: NOTICE (6) + "You said:" (2) + these 10


def answered(upstream: DevUpstream, content: str, *, streamed: bool, **fields) -> tuple[str, str, dict]:
    """The answer's text, its finish_reason and its usage, streamed (with include_usage) or not."""
    if not streamed:
        body = unstreamed(upstream, content, **fields)
        [choice] = body["choices"]
        return choice["message"]["content"], choice["finish_reason"], body["usage"]
    chunks = [
        json.loads(data)
        for _, data in stream(upstream, content, stream_options={"include_usage": True}, **fields)
        if data != "[DONE]"
    ]
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks if chunk["choices"])
    [finish] = [
        chunk["choices"][0]["finish_reason"]
        for chunk in chunks
        if chunk["choices"] and chunk["choices"][0]["finish_reason"]
    ]
    [usage] = [chunk["usage"] for chunk in chunks if chunk.get("usage")]
    return text, finish, usage


@pytest.mark.parametrize("streamed", [False, True], ids=["unstreamed", "streamed"])
@pytest.mark.parametrize("cap", CAPS)
def test_it_cuts_the_answer_at_the_completion_cap_and_says_so(dev_upstream, cap, streamed):
    text, finish, usage = answered(dev_upstream, LONG, streamed=streamed, **{cap: 5})

    assert text == "(development upstream, not a real"
    assert finish == "length"
    assert usage == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


@pytest.mark.parametrize("streamed", [False, True], ids=["unstreamed", "streamed"])
@pytest.mark.parametrize("cap", CAPS)
def test_an_answer_within_the_cap_is_whole_and_stops(dev_upstream, cap, streamed):
    text, finish, usage = answered(dev_upstream, LONG, streamed=streamed, **{cap: 18})

    assert text == f"{NOTICE} You said: {LONG}"
    assert finish == "stop"
    assert usage["completion_tokens"] == 18


@pytest.mark.parametrize("streamed", [False, True], ids=["unstreamed", "streamed"])
def test_it_cuts_inside_a_chunk_of_several_words(dev_upstream, streamed):
    """[dev:chunks=2] puts all but the first word in the second chunk: the cap falls inside it."""
    text, finish, usage = answered(dev_upstream, f"{LONG} [dev:chunks=2]", streamed=streamed, max_tokens=12)

    assert text == f"{NOTICE} You said: one two three four"
    assert (finish, usage["completion_tokens"]) == ("length", 12)


def test_a_capped_stream_sends_only_the_chunks_within_the_cap(dev_upstream):
    chunks = content_chunks(stream(dev_upstream, f"{LONG} [dev:chunks=18]", max_completion_tokens=3))

    assert [chunk["choices"][0]["delta"]["content"] for chunk in chunks] == ["(development", " upstream,", " not"]


@pytest.mark.parametrize("streamed", [False, True], ids=["unstreamed", "streamed"])
def test_the_smallest_of_several_caps_wins(dev_upstream, streamed):
    _, finish, usage = answered(
        dev_upstream, LONG, streamed=streamed, max_tokens=9, max_completion_tokens=4, max_output_tokens=7
    )

    assert (finish, usage["completion_tokens"]) == ("length", 4)


def test_it_counts_open_connections_back_to_the_baseline(own_upstream):
    stats_url = f"http://127.0.0.1:{own_upstream.port}/_dev/stats"
    connection, response = open_chat(own_upstream, "hi [dev:chunks=20] [dev:interval=0.05]")
    response.readline()

    assert own_upstream.open_connections == 1
    assert requests.get(stats_url, timeout=5).json()["open_connections"] == 1  # not counting the one asking
    hang_up(connection, response)
    stream(own_upstream, "hi")
    unstreamed(own_upstream, "hi")
    with pytest.raises(ConnectionResetError):
        stream(own_upstream, "hi [dev:cut=2]")

    assert eventually(lambda: own_upstream.open_connections == 0)
    assert requests.get(stats_url, timeout=5).json() == {
        "open_connections": 0,
        "received_count": 4,
        "streams_abandoned": 1,
    }


def test_it_counts_a_stream_its_client_abandons(own_upstream):
    connection, response = open_chat(own_upstream, "hi [dev:chunks=20] [dev:interval=0.05]")
    first = next(events(response))

    hang_up(connection, response)

    assert json.loads(first[1])["choices"][0]["delta"]["role"] == "assistant"
    assert eventually(lambda: own_upstream.streams_abandoned == 1)
    assert own_upstream.received[-1]["abandoned"] is True


def test_it_does_not_count_a_stream_read_to_its_end_as_abandoned(own_upstream):
    stream(own_upstream, "hi [dev:chunks=5]")

    assert own_upstream.streams_abandoned == 0
    assert own_upstream.received[-1]["abandoned"] is False


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
def test_dev_call_fills_q_or_the_first_argument_the_schema_requires(dev_upstream, path):
    def arguments(parameters: dict) -> dict:
        tool = {"type": "function", "name": "run", "parameters": parameters}
        body = {"model": "gpt-4o-mini", "tools": [tool], "input": "ls -l [dev:call]"}
        if path == "/v1/chat/completions":
            tool = {"type": "function", "function": {"name": "run", "parameters": parameters}}
            body = {
                "model": "gpt-4o-mini",
                "tools": [tool],
                "messages": [{"role": "user", "content": "ls -l [dev:call]"}],
            }
        answer = requests.post(
            f"http://127.0.0.1:{dev_upstream.port}{path}",
            json=body,
            headers={"Authorization": f"Bearer {dev_upstream.key}"},
            timeout=5,
        ).json()
        if path == "/v1/chat/completions":
            return json.loads(answer["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])
        return json.loads(answer["output"][0]["arguments"])

    assert arguments({"type": "object", "properties": {"q": {"type": "string"}}}) == {"q": "ls -l"}
    assert arguments({"type": "object", "required": ["q"]}) == {"q": "ls -l"}
    assert arguments({"type": "object", "required": ["cmd", "workdir"]}) == {"cmd": "ls -l"}  # Codex CLI's
