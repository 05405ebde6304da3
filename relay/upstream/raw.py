"""Asking the upstream for a chat completion, streamed or not, asynchronously; the answer's bytes unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx2  # the SDK's transport: its errors surface unwrapped while a stream is read
from django.conf import settings

from core import requestid
from relay.estimates import answer_text
from relay.upstream.clients import async_client, with_retries_async
from relay.upstream.errors import UpstreamError, UpstreamTimeout, logged

logger = logging.getLogger("relay.upstream")


@dataclasses.dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclasses.dataclass(frozen=True)
class RawCompletion:
    """The upstream's answer exactly as it sent it, and what the gateway reads from it."""

    body: bytes
    model: str
    text: str  # of every choice, for estimates and (when kept) the usage record
    usage: Usage | None
    request_id: str | None


@dataclasses.dataclass(frozen=True)
class StreamEvent:
    """One server-sent event of a streamed completion: its data as sent, and the same parsed."""

    data: str
    chunk: dict[str, Any]

    @property
    def usage(self) -> Usage | None:
        return _usage(self.chunk.get("usage"))

    @property
    def text(self) -> str:
        """The answer text this event adds (of every choice)."""
        return _texts(choice.get("delta") for choice in self.chunk.get("choices") or [] if isinstance(choice, dict))

    @property
    def only_usage(self) -> bool:
        """The closing chunk that `stream_options.include_usage` asks for: usage and no choices."""
        return not self.chunk.get("choices") and self.usage is not None


class UpstreamStream:
    """An upstream stream whose first event has arrived. Iterate it once; always `aclose()` it."""

    def __init__(self, *, stack: contextlib.AsyncExitStack, events: AsyncIterator[StreamEvent], first: StreamEvent,
                 request_id: str | None) -> None:  # fmt: skip
        self._stack = stack
        self._events = events
        self.first = first
        self.request_id = request_id

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        yield self.first
        async for event in self._events:
            yield event

    async def aclose(self) -> None:
        """Close the upstream request (at once, if it is still sending)."""
        await self._stack.aclose()


def _body(params: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """The client's request as sent, and for a stream always with usage (the gateway counts it)."""
    if not stream:
        return {**params, "stream": False}
    return {**params, "stream": True, "stream_options": {**(params.get("stream_options") or {}), "include_usage": True}}


async def _post(params: dict[str, Any], *, stream: bool, timeout: float) -> httpx2.Response:
    """POST /chat/completions through the SDK's client (its key, base URL, headers and error classes),
    with the body as the client sent it.

    The SDK's typed `chat.completions.create()` would transform every parameter against its type
    definitions first (a deep copy and a walk of the types), which cost about a quarter of the
    gateway's CPU per request (docs/performance.md). The gateway checks what it needs itself
    (openai_api.serializers) and passes the rest on unchanged, so it uses the SDK's plain `post`,
    which the SDK offers for exactly this ("undocumented endpoints" in its README). With `stream`, the
    response's body is not read yet; the caller must close it.
    """
    return await async_client().post(
        "/chat/completions",
        cast_to=httpx2.Response,
        body=_body(params, stream=stream),
        options={"timeout": timeout, "headers": requestid.upstream_headers()},  # the provider's logs can name it
        stream=stream,
    )


async def pass_through_completion(params: dict[str, Any]) -> RawCompletion:
    """Ask for one non-streamed completion; its body comes back byte for byte."""

    async def attempt(timeout: float) -> Any:
        return await _post(params, stream=False, timeout=timeout)

    response = await with_retries_async(attempt)
    body = response.content
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        logger.warning("upstream call failed: upstream_malformed_response")
        raise UpstreamError("upstream_malformed_response")
    choices = [choice for choice in data["choices"] if isinstance(choice, dict)]
    return RawCompletion(
        body=body,
        model=str(data.get("model") or params["model"]),
        text=_texts(choice.get("message") for choice in choices),
        usage=_usage(data.get("usage")),
        request_id=response.headers.get("x-request-id"),
    )


async def open_stream(params: dict[str, Any]) -> UpstreamStream:
    """Open a streamed completion and wait for its first event, retrying passing failures, all
    within OPENAI_TIMEOUT; after that, OPENAI_TIMEOUT bounds each pause between events."""

    async def attempt(timeout: float) -> UpstreamStream:
        stack = contextlib.AsyncExitStack()
        try:
            # The whole opening (connect, headers, first event) gets what is left of the deadline;
            # each read after it gets a full OPENAI_TIMEOUT, whatever earlier attempts took.
            response, events, first = await asyncio.wait_for(_open(stack, params), timeout)
        except BaseException as exc:
            await stack.aclose()
            if isinstance(exc, TimeoutError):
                raise logged(UpstreamTimeout("upstream_timeout")) from None
            if isinstance(exc, StopAsyncIteration):
                raise logged(UpstreamError("upstream_empty_stream")) from None
            raise
        return UpstreamStream(stack=stack, events=events, first=first, request_id=response.headers.get("x-request-id"))

    return await with_retries_async(attempt)


async def _open(stack: contextlib.AsyncExitStack, params: dict[str, Any]) -> tuple[Any, Any, StreamEvent]:
    response = await _post(params, stream=True, timeout=settings.OPENAI_TIMEOUT)
    stack.push_async_callback(response.aclose)
    events = _events(response.aiter_lines())
    return response, events, await anext(events)


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[StreamEvent]:
    """The data events of an SSE body until `[DONE]`; a stream that ends before its answer did, or
    that carries an error event, raises UpstreamError."""
    finished = False
    try:
        async for line in lines:
            if not line.startswith("data:"):
                continue  # blank separators, comments, `event:` names
            data = line[5:].strip()
            if data == "[DONE]":
                return
            event = StreamEvent(data=data, chunk=_chunk(data))
            finished = finished or any(choice.get("finish_reason") for choice in event.chunk.get("choices") or [])
            yield event
    except httpx2.TimeoutException:
        raise logged(UpstreamTimeout("upstream_stream_stalled")) from None
    except httpx2.HTTPError:
        raise logged(UpstreamError("upstream_stream_cut")) from None
    if not finished:  # some upstreams end without [DONE], but never before the finish reason
        raise logged(UpstreamError("upstream_stream_cut"))


def _chunk(data: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        chunk = None
    if not isinstance(chunk, dict):
        raise logged(UpstreamError("upstream_malformed_stream"))
    if chunk.get("error"):
        raise logged(UpstreamError("upstream_stream_error"))
    return chunk


def _texts(messages: Any) -> str:
    """What the model wrote in `messages` (an answer's, or a chunk's deltas): text and tool calls alike,
    which the upstream bills as completion tokens (relay.estimates.answer_text)."""
    return "".join(answer_text(message) for message in messages)


def _usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    counts = [value.get(name) for name in ("prompt_tokens", "completion_tokens", "total_tokens")]
    if not all(isinstance(count, int) and count >= 0 for count in counts):
        return None
    return Usage(*counts)
