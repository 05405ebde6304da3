"""Relaying OpenAI-compatible requests (/v1) asynchronously: the same reserve → ask → settle rule as
`relay.services.relay_chat`, for requests passed through as the client sent them, streamed or not.

How a request is settled:
- the upstream fails before anything reached the client: refunded, and the error is raised;
- the upstream fails in the middle of a stream: refunded; the client gets an error event;
- the client goes away once the upstream has been asked: it counts (the upstream was asked and
  may bill for it), recorded as status 499 with whatever usage is known;
- otherwise it counts, with the usage the upstream reported.
Every attempt leaves one UsageRecord. The database work runs in a thread (`sync_to_async`), so
the event loop keeps serving other streams meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async

from quota.services import Reservation, refund_request, reserve_request
from relay import upstream
from relay.models import UsageRecord
from relay.services import record_usage

CLIENT_CLOSED = 499  # nginx's status for "the client closed the request"; only ever in records


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who is asking: the user, and the API key they used (None for a JWT)."""

    user_id: int
    api_key_id: int | None = None


async def relay_completion(*, caller: Caller, params: dict[str, Any]) -> upstream.RawCompletion:
    """Relay one non-streamed completion; raises QuotaExceeded or UpstreamError (refunded)."""
    attempt = _Attempt(caller, params, stream=False)
    await attempt.reserve()
    try:
        completion = await upstream.pass_through_completion(params)
    except BaseException as exc:
        await attempt.settle_failure(exc)
        raise
    await attempt.record(200, model=completion.model, usage=completion.usage, request_id=completion.request_id)
    return completion


async def open_completion_stream(*, caller: Caller, params: dict[str, Any]) -> AsyncIterator[bytes]:
    """Reserve a request and open the upstream stream; return the client's SSE body, which settles
    the request when it ends. Raises QuotaExceeded or UpstreamError (refunded) before the first chunk."""
    attempt = _Attempt(caller, params, stream=True)
    await attempt.reserve()
    try:
        stream = await upstream.open_stream(params)
    except BaseException as exc:
        await attempt.settle_failure(exc)
        raise
    include_usage = bool((params.get("stream_options") or {}).get("include_usage"))
    return _server_sent_events(stream, attempt, include_usage=include_usage)


async def _server_sent_events(
    stream: upstream.UpstreamStream, attempt: _Attempt, *, include_usage: bool
) -> AsyncIterator[bytes]:
    usage = None
    model = str(stream.first.chunk.get("model") or attempt.params["model"])
    settled = False

    async def settle(status_code: int, error: str = "") -> None:
        """Close the upstream request and record the attempt, before the client's last event, so
        that a client holding `[DONE]` finds its request recorded."""
        nonlocal settled
        settled = True
        await stream.aclose()
        await attempt.record(status_code, model=model, usage=usage, request_id=stream.request_id, error=error)

    try:
        async for event in stream:
            usage = event.usage or usage
            if event.only_usage and not include_usage:
                continue  # the gateway asked for it for its own accounting
            yield f"data: {event.data}\n\n".encode()
    except upstream.UpstreamError as error:
        await sync_to_async(refund_request)(reservation=attempt.reservation)
        await settle(error.status, error.reason)
        yield _error_event(error)
        return
    except Exception:
        await sync_to_async(refund_request)(reservation=attempt.reservation)  # a bug of ours costs nothing
        await settle(500, "gateway_error")
        raise
    else:
        await settle(200)
    finally:
        if not settled:
            # The client went away (the task was cancelled or this generator closed): the upstream
            # request is closed at once, and the request counts.
            await settle(CLIENT_CLOSED, "client_disconnected")
    yield b"data: [DONE]\n\n"


def _error_event(error: upstream.UpstreamError) -> bytes:
    """An in-stream error as OpenAI sends one (its SDK raises APIError on it)."""
    body = {"error": {"message": error.message, "type": "server_error", "param": None, "code": error.reason}}
    return f"data: {json.dumps(body)}\n\n".encode()


class _Attempt:
    """One relay attempt's reservation and record."""

    def __init__(self, caller: Caller, params: dict[str, Any], *, stream: bool) -> None:
        self.caller = caller
        self.params = params
        self.stream = stream
        self.reservation: Reservation | None = None
        self.started = time.monotonic()

    async def reserve(self) -> None:
        self.reservation = await sync_to_async(reserve_request)(user_id=self.caller.user_id)
        self.started = time.monotonic()

    async def settle_failure(self, exc: BaseException) -> None:
        """Before anything reached the client: refund, unless the client itself went away."""
        if isinstance(exc, asyncio.CancelledError):
            await self.record(CLIENT_CLOSED, error="client_disconnected")
            return
        await sync_to_async(refund_request)(reservation=self.reservation)
        if isinstance(exc, upstream.UpstreamError):
            await self.record(exc.status, error=exc.reason)

    async def record(
        self,
        status_code: int,
        *,
        model: str | None = None,
        usage: upstream.Usage | None = None,
        request_id: str | None = None,
        error: str = "",
    ) -> None:
        await sync_to_async(record_usage)(
            user_id=self.caller.user_id,
            api_key_id=self.caller.api_key_id,
            endpoint=UsageRecord.Endpoint.V1,
            model=model or str(self.params["model"]),
            stream=self.stream,
            started=self.started,
            status_code=status_code,
            usage=usage,
            request_id=request_id,
            error=error,
        )
