"""Relaying OpenAI-compatible requests (/v1) asynchronously: the same steps as
`relay.services.relay_chat` (a `RelayAttempt`), for requests passed through as the client sent them,
streamed or not.

How a request is settled:
- the upstream fails before anything reached the client: refunded, and the error is raised;
- the upstream fails in the middle of a stream: refunded; the client gets an error event;
- the client goes away once the upstream has been asked: it counts (the upstream was asked and
  may bill for it), recorded as status 499 with the usage known or estimated so far;
- otherwise it counts, with the usage the upstream reported (estimated when it reported none).
Every attempt leaves one UsageRecord. The database work runs in a thread (`sync_to_async`), so
the event loop keeps serving other streams meanwhile, and each step hands its database connection
back when it is done (`_in_db`): a stream may stay open for minutes, and a thousand open streams must
not hold a thousand connections.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import connection

from quota.services import Allowance
from relay import upstream
from relay.models import UsageRecord
from relay.services import RelayAttempt

T = TypeVar("T")
CLIENT_CLOSED = 499  # nginx's status for "the client closed the request"; only ever in records


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who is asking: the user, and the API key they used (None for a JWT)."""

    user_id: int
    api_key_id: int | None = None


@dataclasses.dataclass(frozen=True)
class Passed:
    """What the view sends: the upstream's answer (bytes, or a stream of SSE bytes), and where the
    user stands after the request (for the rate-limit headers)."""

    body: bytes | AsyncIterator[bytes]
    allowance: Allowance
    request_id: str | None = None


async def relay_completion(*, caller: Caller, params: dict[str, Any]) -> Passed:
    """Relay one non-streamed completion; raises QuotaExceeded or UpstreamError (refunded)."""
    attempt = _attempt(caller, params, stream=False)
    params = await _reserve(attempt, params)
    try:
        completion = await upstream.pass_through_completion(params)
    except BaseException as exc:
        await _settle_failure(attempt, exc)
        raise
    await _in_db(
        attempt.succeed,
        model=completion.model,
        usage=completion.usage,
        answer=completion.text,
        request_id=completion.request_id,
    )
    return Passed(body=completion.body, allowance=attempt.reservation.allowance, request_id=completion.request_id)


async def open_completion_stream(*, caller: Caller, params: dict[str, Any]) -> Passed:
    """Reserve a request and open the upstream stream; the body is the client's SSE stream, which
    settles the request when it ends. Raises QuotaExceeded or UpstreamError (refunded) before the
    first chunk."""
    attempt = _attempt(caller, params, stream=True)
    params = await _reserve(attempt, params)
    try:
        stream = await upstream.open_stream(params)
    except BaseException as exc:
        await _settle_failure(attempt, exc)
        raise
    attempt.first_byte()
    include_usage = bool((params.get("stream_options") or {}).get("include_usage"))
    events = _server_sent_events(stream, attempt, include_usage=include_usage)
    return Passed(body=events, allowance=attempt.reservation.allowance, request_id=stream.request_id)


async def _in_db(step: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a database step in the request's thread, then close that thread's connection (with a
    pool, give it back), which also releases the one authentication opened."""
    return await sync_to_async(_run_and_release)(step, *args, **kwargs)


def _run_and_release(step: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    try:
        return step(*args, **kwargs)
    finally:
        if not connection.in_atomic_block:
            connection.close()


def _attempt(caller: Caller, params: dict[str, Any], *, stream: bool) -> RelayAttempt:
    return RelayAttempt(
        user_id=caller.user_id,
        api_key_id=caller.api_key_id,
        endpoint=UsageRecord.Endpoint.V1,
        model=str(params["model"]),
        messages=params["messages"],
        stream=stream,
    )


async def _reserve(attempt: RelayAttempt, params: dict[str, Any]) -> dict[str, Any]:
    """Reserve the request; under a token limit, the request's completion budget too, and return
    the parameters with `max_tokens` (or `max_completion_tokens`) capped to that budget."""
    choices = params.get("n") if isinstance(params.get("n"), int) and params["n"] > 0 else 1
    cap_name = "max_completion_tokens" if "max_completion_tokens" in params else "max_tokens"
    asked = params.get(cap_name)
    asked = asked if isinstance(asked, int) and not isinstance(asked, bool) and asked > 0 else None
    reservation = await _in_db(attempt.reserve, completion_tokens=asked * choices if asked else None)
    if reservation.token_budget is None:
        return params
    # Each of the n choices may use its cap: together they stay within the budget.
    return {**params, cap_name: max(1, reservation.token_budget // choices)}


async def _settle_failure(attempt: RelayAttempt, exc: BaseException) -> None:
    """Before anything reached the client: refunded, unless the client itself went away."""
    if isinstance(exc, asyncio.CancelledError):
        await _in_db(attempt.succeed, usage=None, answer="", status_code=CLIENT_CLOSED, error="client_disconnected")
    elif isinstance(exc, upstream.UpstreamError):
        await _in_db(attempt.fail, exc)
    else:
        await _in_db(attempt.refund)


async def _server_sent_events(
    stream: upstream.UpstreamStream, attempt: RelayAttempt, *, include_usage: bool
) -> AsyncIterator[bytes]:
    usage = None
    answer: list[str] = []
    model = str(stream.first.chunk.get("model") or attempt.model)
    settled = False

    async def settle(status_code: int = 200, error: str = "") -> None:
        """Close the upstream request and settle the attempt, before the client's last event, so
        that a client holding `[DONE]` finds its request counted and recorded."""
        nonlocal settled
        settled = True
        await stream.aclose()
        await _in_db(
            attempt.succeed,
            model=model,
            usage=usage,
            answer="".join(answer),
            request_id=stream.request_id,
            status_code=status_code,
            error=error,
        )

    try:
        async for event in stream:
            usage = event.usage or usage
            answer.append(event.text)
            if event.only_usage and not include_usage:
                continue  # the gateway asked for it for its own accounting
            yield f"data: {event.data}\n\n".encode()
    except upstream.UpstreamError as error:
        settled = True
        await stream.aclose()
        await _in_db(attempt.fail, error)
        yield _error_event(error)
        return
    except Exception:
        settled = True
        await stream.aclose()
        await _in_db(attempt.refund)  # a bug of ours costs nothing
        raise
    else:
        await settle()
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
