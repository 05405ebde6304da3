"""Relaying a chat completion asynchronously, for every relay endpoint (`/v1`, `/api`, `/api/chat/`): the
steps of a `relay.services.RelayAttempt`, for requests passed through as the client sent them, streamed
or not.

How a request is settled:
- the upstream fails before anything reached the client: refunded, and the error is raised;
- the upstream fails in the middle of a stream: refunded; the client gets an error event;
- the client goes away once the upstream has been asked: it counts (the upstream was asked and
  may bill for it), recorded as status 499 with the usage known or estimated so far;
- otherwise it counts, with the usage the upstream reported (estimated when it reported none).
Every attempt leaves one UsageRecord. The database work runs in the database threads
(`core.db.in_db`), so the event loop keeps serving other streams meanwhile, and each step hands
its database connection back when it is done: a stream may stay open for minutes, and a thousand open
streams must not hold a thousand connections.

A stream reaches its client through `settled_events`, the one stream loop, spoken by a `StreamProtocol`
of each API family (`OpenAIEvents` for `/v1`, conversations.streaming's events for a message's reply);
the `StreamSettlement` it drives ends the attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

from core.db import in_db
from core.request_end import at_request_end
from quota.services import Allowance
from relay import upstream
from relay.models import UsageRecord
from relay.services import RelayAttempt

CLIENT_CLOSED = 499  # nginx's status for "the client closed the request"; only ever in records


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who is asking: the user, and the API key they used (None for a JWT or a session). A view
    names its request's caller with `relay.http.caller_of`."""

    user_id: int
    api_key_id: int | None = None


@dataclasses.dataclass(frozen=True)
class Passed:
    """What the view sends: the upstream's answer (bytes, or a stream of SSE bytes), and where the
    user stands (for the rate-limit headers): after the request was settled, or for a stream, whose
    headers leave before its usage is known, after its reservation."""

    body: bytes | AsyncIterator[bytes]
    allowance: Allowance
    request_id: str | None = None
    completion: upstream.RawCompletion | None = None  # a non-streamed answer, its usage as counted


async def relay_completion(
    *, caller: Caller, params: dict[str, Any], endpoint: str = UsageRecord.Endpoint.V1
) -> Passed:
    """Relay one non-streamed completion; raises QuotaExceeded or UpstreamError (refunded)."""
    attempt = _attempt(caller, params, stream=False, endpoint=endpoint)
    params = await _reserve(attempt, params)
    try:
        completion = await upstream.pass_through_completion(params)
    except BaseException as exc:
        await _settle_failure(attempt, exc)
        raise
    usage = await in_db(
        attempt.succeed,
        model=completion.model,
        usage=completion.usage,
        answer=completion.text,
        request_id=completion.request_id,
    )
    return Passed(
        body=completion.body,
        allowance=attempt.reservation.settled(tokens=usage.total_tokens),
        request_id=completion.request_id,
        completion=dataclasses.replace(completion, usage=usage),
    )


async def open_completion_stream(*, caller: Caller, params: dict[str, Any]) -> Passed:
    """Reserve a request and open the upstream stream; the body is the client's SSE stream, which
    settles the request when it ends. Raises QuotaExceeded or UpstreamError (refunded) before the
    first chunk."""
    settlement = await open_settled_stream(caller=caller, params=params)
    include_usage = bool((params.get("stream_options") or {}).get("include_usage"))
    events = settled_events(settlement, OpenAIEvents(include_usage=include_usage))
    return Passed(body=events, allowance=settlement.allowance, request_id=settlement.request_id)


async def open_settled_stream(
    *, caller: Caller, params: dict[str, Any], endpoint: str = UsageRecord.Endpoint.V1
) -> StreamSettlement:
    """Reserve a request and open the upstream stream, whose first event has arrived. The caller
    sends the client `settled_events(settlement, protocol)`, which settles it; if the client goes
    away first, the request is settled when the request ends. Raises QuotaExceeded or UpstreamError
    (refunded) before the first chunk."""
    attempt = _attempt(caller, params, stream=True, endpoint=endpoint)
    params = await _reserve(attempt, params)
    try:
        stream = await upstream.open_stream(params)
    except BaseException as exc:
        await _settle_failure(attempt, exc)
        raise
    attempt.first_byte()
    settlement = StreamSettlement(stream, attempt)
    # If the client goes away before the stream's body starts, its `finally` never runs: this does.
    at_request_end(settlement.abandon)
    return settlement


def _attempt(caller: Caller, params: dict[str, Any], *, stream: bool, endpoint: str) -> RelayAttempt:
    return RelayAttempt(
        user_id=caller.user_id,
        api_key_id=caller.api_key_id,
        endpoint=endpoint,
        model=str(params["model"]),
        messages=params["messages"],
        stream=stream,
    )


CAPS = ("max_tokens", "max_completion_tokens")


async def _reserve(attempt: RelayAttempt, params: dict[str, Any]) -> dict[str, Any]:
    """Reserve the request; under a token limit, the request's completion budget too, and return
    the parameters with every completion cap it sent (`max_tokens`, `max_completion_tokens`), or
    `max_tokens` if it sent none, set to its share of that budget."""
    choices = params.get("n") or 1  # a checked integer (openai_api.serializers)
    asked = [params[name] for name in CAPS if _positive_int(params.get(name))]
    wanted = max(asked) * choices if asked else None
    # Shielded: if the client goes away while the reservation waits for the quota row's lock, the
    # reservation still completes in its thread; it is then given back before the cancellation goes on.
    reserving = asyncio.ensure_future(in_db(attempt.reserve, completion_tokens=wanted))
    try:
        reservation = await asyncio.shield(reserving)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # QuotaExceeded or a database error: nothing was taken
            await reserving
            await in_db(attempt.refund)
        raise
    if reservation.token_budget is None:
        return params
    # Each of the n choices may use its cap: together they stay within the budget.
    share = max(1, reservation.token_budget // choices)
    present = [name for name in CAPS if name in params] or ["max_tokens"]
    return {**params, **dict.fromkeys(present, share)}


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


async def _settle_failure(attempt: RelayAttempt, exc: BaseException) -> None:
    """Before anything reached the client: refunded, unless the client itself went away."""
    if isinstance(exc, asyncio.CancelledError):
        await in_db(attempt.succeed, usage=None, answer="", status_code=CLIENT_CLOSED, error="client_disconnected")
    elif isinstance(exc, upstream.UpstreamError):
        await in_db(attempt.fail, exc)
    else:
        await in_db(attempt.refund)


class StreamSettlement:
    """Ends one streamed attempt exactly once, however it ends: closes the upstream request, then
    settles (the request counts), fails or refunds it. The database step runs even if a cancellation
    arrives while the upstream request is being closed. `settled_events` drives it; the first of
    `succeed`, `fail`, `refund` or `abandon` to be called ends it, and the others then do nothing."""

    def __init__(self, stream: upstream.UpstreamStream, attempt: RelayAttempt) -> None:
        self._stream = stream
        self._attempt = attempt
        self._model = str(stream.first.chunk.get("model") or attempt.model)
        self._usage: upstream.Usage | None = None
        self._answer: list[str] = []
        self._done = False

    @property
    def allowance(self) -> Allowance:
        """Where the caller stood once the request was reserved (for the rate-limit headers)."""
        return self._attempt.reservation.allowance

    @property
    def text(self) -> str:
        """The answer so far."""
        return "".join(self._answer)

    @property
    def request_id(self) -> str | None:
        """The upstream's request id, when it gave one."""
        return self._stream.request_id

    def _note(self, event: upstream.StreamEvent) -> None:
        self._usage = event.usage or self._usage
        self._answer.append(event.text)

    async def succeed(self) -> None:
        """The stream ended well: the request counts, with the usage the upstream reported (or estimated)."""
        await self._finish()

    async def fail(self, error: upstream.UpstreamError) -> None:
        """The upstream failed midway: refunded, and recorded with the reason."""
        await self._finish(error=error)

    async def refund(self) -> None:
        """A bug of ours (or our database) ended it: refunded; it costs the caller nothing."""
        await self._finish(refund=True)

    async def abandon(self) -> None:
        """The client went away: the upstream request is closed at once, and the request counts
        (status 499, with the usage so far)."""
        await self._finish(status_code=CLIENT_CLOSED, reason="client_disconnected")

    async def _finish(
        self, *, status_code: int = 200, reason: str = "", error: upstream.UpstreamError | None = None,
        refund: bool = False,
    ) -> None:  # fmt: skip
        if self._done:
            return
        self._done = True
        try:
            await self._stream.aclose()
        finally:
            if error is not None:
                await in_db(self._attempt.fail, error)
            elif refund:
                await in_db(self._attempt.refund)
            else:
                await in_db(
                    self._attempt.succeed,
                    model=self._model,
                    usage=self._usage,
                    answer=self.text,
                    request_id=self._stream.request_id,
                    status_code=status_code,
                    error=reason,
                )


class StreamProtocol:
    """How an API family speaks a settled stream to its client: what each upstream event becomes,
    and what happens once the stream has ended one way or the other. `settled_events` calls each
    of `succeeded`, `failed` and `abandoned` at most once, and only one of them."""

    def opening(self) -> bytes | None:
        """What to send before the first upstream event, if anything."""
        return None

    def event(self, event: upstream.StreamEvent) -> bytes | None:
        """What to send for one upstream event, or None to send nothing."""
        raise NotImplementedError

    def error(self, error: upstream.UpstreamError) -> bytes:
        """The last thing sent when the upstream fails midway (the request is refunded by then)."""
        raise NotImplementedError

    async def succeeded(self, settlement: StreamSettlement) -> bytes:
        """The request has been settled and counts: the last thing to send."""
        raise NotImplementedError

    async def failed(self, settlement: StreamSettlement) -> None:
        """The request has been refunded (the upstream failed, or a bug of ours)."""

    async def abandoned(self, settlement: StreamSettlement) -> None:
        """The client went away before the end; the request counts, with `settlement.text` so far."""


def settled_events(settlement: StreamSettlement, protocol: StreamProtocol) -> AsyncIterator[bytes]:
    """The client's stream: each upstream event as `protocol` speaks it, the request settled before
    the last event (so a client holding it finds its request counted and recorded), refunded on an
    upstream failure (then an error event ends the stream) or on a bug of ours (raised), and counted
    as 499 with the usage so far if the client goes away, even before the body starts."""
    stream = _SettledStream(settlement, protocol)
    # If the client goes away before the body starts, its `finally` never runs: this does.
    at_request_end(stream.abandon)
    return stream.events()


class _SettledStream:
    """The one stream loop of every relay endpoint."""

    def __init__(self, settlement: StreamSettlement, protocol: StreamProtocol) -> None:
        self.settlement = settlement
        self.protocol = protocol
        self.ended = False  # the protocol has heard how the stream ended (or is hearing it)

    async def events(self) -> AsyncIterator[bytes]:
        settlement, protocol = self.settlement, self.protocol
        try:
            opening = protocol.opening()
            if opening is not None:
                yield opening
            async for event in settlement._stream:
                settlement._note(event)
                data = protocol.event(event)
                if data is not None:
                    yield data
        except upstream.UpstreamError as error:
            await settlement.fail(error)
            await self._failed()
            yield protocol.error(error)
        except Exception:
            await settlement.refund()  # a bug of ours costs nothing
            await self._failed()
            raise
        else:
            # Settled before the client's last event, so that a client holding it finds its request
            # counted and recorded.
            await settlement.succeed()
            self.ended = True
            yield await protocol.succeeded(settlement)
        finally:
            await self.abandon()  # nothing to do unless the client went away mid-stream

    async def _failed(self) -> None:
        self.ended = True
        await self.protocol.failed(self.settlement)

    async def abandon(self) -> None:
        """The client went away: the request counts, and the protocol hears of it unless it has
        heard how the stream ended."""
        await self.settlement.abandon()
        if not self.ended:
            self.ended = True
            await self.protocol.abandoned(self.settlement)


class OpenAIEvents(StreamProtocol):
    """/v1's server-sent events: each chunk as the upstream sent it, then `data: [DONE]`; an
    OpenAI-style error event instead when the upstream fails midway."""

    def __init__(self, *, include_usage: bool) -> None:
        self.include_usage = include_usage

    def event(self, event: upstream.StreamEvent) -> bytes | None:
        if event.only_usage and not self.include_usage:
            return None  # the gateway asked for it for its own accounting
        return f"data: {event.data}\n\n".encode()

    def error(self, error: upstream.UpstreamError) -> bytes:
        """An in-stream error as OpenAI sends one (its SDK raises APIError on it)."""
        body = {"error": {"message": error.message, "type": "server_error", "param": None, "code": error.reason}}
        return f"data: {json.dumps(body)}\n\n".encode()

    async def succeeded(self, settlement: StreamSettlement) -> bytes:
        return b"data: [DONE]\n\n"
