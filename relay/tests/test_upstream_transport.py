"""The SDK's aiohttp transport (issue 17) fails as httpx2's did, so the fault table (docs/faults.md) holds:
a connection dropped or reset, before the answer or in the middle of a stream, is a lost connection (502,
retried; a stream cut), never a timeout; a silence is a timeout; an answer that is not HTTP is a lost
connection. Against a raw socket server of the test's own, so each failure is exactly the one named.
relay/tests/test_upstream_faults_on_every_endpoint.py proves the same end to end on every endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import struct

import httpx2
import openai
import pytest

from devtools.testing import free_port
from providers.catalog import ProviderEntry
from relay.upstream import clients
from relay.upstream.errors import domain_error, retryable

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
CHUNK = b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n'
ANSWER = b'{"choices": []}'


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset, as the development upstream's `[dev:cut]` does."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def serve(behaviour: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(asyncio.CancelledError, asyncio.IncompleteReadError, ConnectionError):
        await reader.readuntil(b"\r\n\r\n")
        await play(behaviour, reader, writer)


async def play(behaviour: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if behaviour == "drop":  # as `[dev:drop]`: closed, no answer
        writer.close()
    elif behaviour == "reset":
        reset(writer)
    elif behaviour == "not http":
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        writer.close()
    elif behaviour == "silent":
        await asyncio.sleep(3)
        writer.close()
    elif behaviour == "ok":  # every request on the connection (keep-alive), until the client closes it
        while True:
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(ANSWER)
            )
            writer.write(ANSWER)
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")  # the next request (the previous one's body `{}` before it)
    else:  # a stream: two chunks, then cut (reset), ended early (closed), or a silence
        writer.write(HEAD + chunked(CHUNK) + chunked(CHUNK))
        await writer.drain()
        await asyncio.sleep(0.05)
        if behaviour == "stream reset":
            reset(writer)
        elif behaviour == "stream closed":
            writer.close()
        else:
            await asyncio.sleep(3)
            writer.close()


def provider(port: int) -> ProviderEntry:
    return ProviderEntry(
        id=None, name="raw", kind="openai", base_url=f"http://127.0.0.1:{port}/v1", api_version="", headers={},
        timeout=0.5, max_retries=0, completion_cap="max_tokens", endpoints=frozenset({"chat"}), keys=(),
    )  # fmt: skip


async def call(behaviour: str, *, stream: bool = False) -> Exception | None:
    """The SDK's error for one call to a server that does `behaviour` (for a stream: the error reading it)."""
    server = await asyncio.start_server(lambda r, w: serve(behaviour, r, w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = clients._make(provider(port), clients.NO_KEY)
    try:
        response = await client.post("/chat/completions", cast_to=httpx2.Response, body={}, stream=stream)
        if stream:
            async for _ in response.aiter_lines():
                pass
        return None
    except Exception as exc:
        return exc
    finally:
        await client.close()
        server.close()


@pytest.mark.parametrize("behaviour", ["drop", "reset", "not http"])
def test_a_connection_lost_before_the_answer_is_unreachable_and_retried_not_a_timeout(behaviour):
    error = asyncio.run(call(behaviour))
    assert type(error) is openai.APIConnectionError
    assert retryable(error)
    assert domain_error(error).reason == "upstream_unreachable"
    assert domain_error(error).status == 502


def test_a_refused_connection_is_unreachable():
    error = asyncio.run(call_refused())
    assert type(error) is openai.APIConnectionError
    assert domain_error(error).reason == "upstream_unreachable"


async def call_refused() -> Exception | None:
    client = clients._make(provider(free_port()), clients.NO_KEY)
    try:
        await client.post("/chat/completions", cast_to=httpx2.Response, body={})
    except Exception as exc:
        return exc
    finally:
        await client.close()
    return None


def test_silence_before_the_answer_is_a_timeout():
    error = asyncio.run(call("silent"))
    assert type(error) is openai.APITimeoutError
    assert not retryable(error)
    assert domain_error(error).reason == "upstream_timeout"
    assert domain_error(error).status == 504


@pytest.mark.parametrize("behaviour", ["stream reset", "stream closed"])
def test_a_stream_cut_midway_is_a_transport_error_not_a_timeout(behaviour):
    # relay/upstream/raw.py: httpx2.TimeoutException is `upstream_stream_stalled`, any other HTTPError is cut
    error = asyncio.run(call(behaviour, stream=True))
    assert isinstance(error, httpx2.HTTPError)
    assert not isinstance(error, httpx2.TimeoutException)


def test_a_stream_that_stalls_midway_is_a_read_timeout():
    error = asyncio.run(call("stream stalls", stream=True))
    assert isinstance(error, httpx2.ReadTimeout)


def test_each_client_has_a_pool_of_its_own_on_aiohttp_that_does_not_queue_a_thousand_streams():
    async def two_calls():
        server = await asyncio.start_server(lambda r, w: serve("ok", r, w), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = clients._make(provider(port), clients.NO_KEY)
        for _ in range(2):
            response = await client.post("/chat/completions", cast_to=httpx2.Response, body={})
            assert response.content == ANSWER
        transport = client._client._transport._inner
        session = transport.client
        assert session.connector.limit == 1000
        assert session.connector.limit_per_host == 0
        assert sum(len(idle) for idle in session.connector._conns.values()) == 1  # one connection, kept warm
        await client.close()
        assert session.closed
        server.close()

    asyncio.run(two_calls())


def test_a_client_dropped_without_closing_closes_its_connections_without_a_complaint(caplog):
    async def dropped():
        server = await asyncio.start_server(lambda r, w: serve("ok", r, w), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = clients._make(provider(port), clients.NO_KEY)
        await client.post("/chat/completions", cast_to=httpx2.Response, body={})
        connector = client._client._transport._inner.client.connector
        del client
        gc.collect()
        assert connector.closed
        server.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(dropped())
        gc.collect()
    assert "Unclosed" not in caplog.text
