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

A stream reaches its client through relay/streams.py: `settled_events`, the one stream loop, spoken by a
`StreamProtocol` of each API family, drives the `StreamSettlement` that ends the attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from core.db import in_db
from core.request_end import at_request_end
from quota.services import Allowance
from relay import upstream
from relay.models import UsageRecord
from relay.services import RelayAttempt
from relay.streams import CLIENT_CLOSED, OpenAIEvents, StreamSettlement, settled_events


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
    provider: str = ""  # the provider that answered: for the x-chatgateway-provider header, if allowed


async def relay_completion(
    *, caller: Caller, params: dict[str, Any], endpoint: str = UsageRecord.Endpoint.V1
) -> Passed:
    """Relay one non-streamed completion; raises QuotaExceeded or UpstreamError (refunded)."""
    attempt = _attempt(caller, params, stream=False, endpoint=endpoint)
    params = await _reserve(attempt, params)
    try:
        completion = await upstream.pass_through_completion(params, attempt.trail)
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
        provider=attempt.trail.provider,
    )


async def open_completion_stream(*, caller: Caller, params: dict[str, Any]) -> Passed:
    """Reserve a request and open the upstream stream; the body is the client's SSE stream, which
    settles the request when it ends. Raises QuotaExceeded or UpstreamError (refunded) before the
    first chunk."""
    settlement = await open_settled_stream(caller=caller, params=params)
    include_usage = bool((params.get("stream_options") or {}).get("include_usage"))
    events = settled_events(settlement, OpenAIEvents(include_usage=include_usage))
    return Passed(
        body=events, allowance=settlement.allowance, request_id=settlement.request_id, provider=settlement.provider
    )


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
        stream = await upstream.open_stream(params, attempt.trail)
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
        params=params,
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
