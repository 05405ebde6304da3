"""Relaying a chat completion asynchronously, for every relay endpoint (`/v1`, `/api`, `/api/chat/`): the
steps of a `relay.services.RelayAttempt`, for requests passed through as the client sent them, streamed
or not. A legacy completion (`/v1/completions`) and embeddings (`/v1/embeddings`) take the same steps;
what differs is the upstream call and the `Budget` each reserves.

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
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from django.conf import settings

from core.db import in_db
from core.request_end import at_request_end
from quota.services import Allowance
from relay import upstream
from relay.estimates import estimate_request_tokens, prompt_strings
from relay.models import UsageRecord
from relay.services import RelayAttempt
from relay.streams import CLIENT_CLOSED, OpenAIEvents, StreamSettlement, settled_events


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who is asking: the user, and the API key they used (None for a JWT or a session). A view
    names its request's caller with `relay.http.caller_of`."""

    user_id: int
    api_key_id: int | None = None
    team_asked: str | None = None  # the team the request names (teams.services.HEADER)
    key_team_id: int | None = None  # the team its API key draws on, if the key has one


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
    """Relay one non-streamed chat completion; raises QuotaExceeded or UpstreamError (refunded)."""
    attempt = _attempt(caller, params, stream=False, endpoint=endpoint)
    params = await _reserve(attempt, params, _chat_budget(params))
    return await _relay(attempt, params, upstream.pass_through_completion)


async def relay_text_completion(*, caller: Caller, params: dict[str, Any]) -> Passed:
    """Relay one non-streamed legacy completion (`/v1/completions`), as a chat completion is."""
    attempt = _attempt(caller, params, stream=False, endpoint=UsageRecord.Endpoint.COMPLETIONS)
    params = await _reserve(attempt, params, _text_completion_budget(params))
    return await _relay(attempt, params, upstream.pass_through_text_completion)


async def relay_embeddings(*, caller: Caller, params: dict[str, Any]) -> Passed:
    """Relay one embeddings request (`/v1/embeddings`): reserved with its estimated prompt as its
    budget, settled with the usage reported; raises QuotaExceeded or UpstreamError (refunded)."""
    attempt = _attempt(caller, params, stream=False, endpoint=UsageRecord.Endpoint.EMBEDDINGS)
    params = await _reserve(attempt, params, _embeddings_budget(params))
    return await _relay(attempt, params, upstream.pass_through_embeddings)


async def _relay(
    attempt: RelayAttempt,
    params: dict[str, Any],
    call: Callable[[dict[str, Any], upstream.Trail], Awaitable[upstream.RawCompletion]],
) -> Passed:
    """Ask the upstream with `call` for a reserved attempt, and settle it (or fail it: then raised)."""
    try:
        completion = await call(params, attempt.trail)
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
        allowance=attempt.reservation.settled(tokens=usage.total_tokens, cost=attempt.cost_of(usage)),
        request_id=completion.request_id,
        completion=dataclasses.replace(completion, usage=usage),
        provider=attempt.trail.provider,
    )


async def open_completion_stream(*, caller: Caller, params: dict[str, Any]) -> Passed:
    """Reserve a request and open the upstream stream; the body is the client's SSE stream, which
    settles the request when it ends. Raises QuotaExceeded or UpstreamError (refunded) before the
    first chunk."""
    settlement = await open_settled_stream(caller=caller, params=params)
    return _openai_events(settlement, params)


async def open_text_completion_stream(*, caller: Caller, params: dict[str, Any]) -> Passed:
    """`open_completion_stream` for a legacy completion (`/v1/completions`)."""
    settlement = await open_settled_stream(
        caller=caller,
        params=params,
        endpoint=UsageRecord.Endpoint.COMPLETIONS,
        opener=upstream.open_text_completion_stream,
        budget=_text_completion_budget(params),
    )
    return _openai_events(settlement, params)


def _openai_events(settlement: StreamSettlement, params: dict[str, Any]) -> Passed:
    include_usage = bool((params.get("stream_options") or {}).get("include_usage"))
    events = settled_events(settlement, OpenAIEvents(include_usage=include_usage))
    return Passed(
        body=events, allowance=settlement.allowance, request_id=settlement.request_id, provider=settlement.provider
    )


async def open_settled_stream(
    *,
    caller: Caller,
    params: dict[str, Any],
    endpoint: str = UsageRecord.Endpoint.V1,
    opener: Callable[[dict[str, Any], upstream.Trail], Awaitable[upstream.UpstreamStream]] = upstream.open_stream,
    budget: Budget | None = None,
) -> StreamSettlement:
    """Reserve a request (and its `budget`: a chat completion's by default) and open the upstream
    stream (`opener`: a chat completion's by default), whose first event has arrived. The caller sends
    the client `settled_events(settlement, protocol)`, which settles it; if the client goes away first,
    the request is settled when the request ends. Raises QuotaExceeded or UpstreamError (refunded)
    before the first chunk."""
    attempt = _attempt(caller, params, stream=True, endpoint=endpoint)
    params = await _reserve(attempt, params, budget or _chat_budget(params))
    try:
        stream = await opener(params, attempt.trail)
    except BaseException as exc:
        await _settle_failure(attempt, exc)
        raise
    attempt.first_byte()
    settlement = StreamSettlement(stream, attempt)
    # If the client goes away before the stream's body starts, its `finally` never runs: this does.
    at_request_end(settlement.abandon)
    return settlement


def _attempt(caller: Caller, params: dict[str, Any], *, stream: bool, endpoint: str) -> RelayAttempt:
    messages = params.get("messages")
    if not isinstance(messages, list):  # a legacy completion's prompts, embeddings' inputs: kept as messages
        messages = [{"role": "user", "content": text} for text in prompt_strings(params)]
    return RelayAttempt(
        user_id=caller.user_id,
        api_key_id=caller.api_key_id,
        team_asked=caller.team_asked,
        key_team_id=caller.key_team_id,
        endpoint=endpoint,
        model=str(params["model"]),
        messages=messages,
        params=params,
        stream=stream,
    )


CAPS = ("max_tokens", "max_completion_tokens")
LEGACY_DEFAULT_MAX_TOKENS = 16  # what OpenAI's /v1/completions writes when a request sets no max_tokens


@dataclasses.dataclass(frozen=True)
class Budget:
    """What a request reserves under a token limit, besides its request: `wanted` tokens (None:
    CHATGATEWAY_COMPLETION_RESERVE) shared by `choices` answers, each capped by the request's `caps`
    parameters; `must_fit`: refused unless all of `wanted` is left; `counts_request`: whether it
    takes one of the day's requests too."""

    wanted: int | None
    choices: int = 1
    caps: tuple[str, ...] = CAPS
    must_fit: bool = False
    counts_request: bool = True


def _chat_budget(params: dict[str, Any]) -> Budget:
    """A chat completion's: its largest cap (`max_tokens`, `max_completion_tokens`) times `n`."""
    choices = params.get("n") or 1  # a checked integer (openai_api.serializers)
    asked = [params[name] for name in CAPS if _positive_int(params.get(name))]
    return Budget(wanted=max(asked) * choices if asked else None, choices=choices)


def _text_completion_budget(params: dict[str, Any]) -> Budget:
    """A legacy completion's: `max_tokens` (OpenAI's default of 16 when unset) for each of `best_of`
    (or `n`) answers to each prompt."""
    choices = max(params.get("n") or 1, params.get("best_of") or 1) * _prompt_count(params.get("prompt"))
    cap = params.get("max_tokens")
    each = cap if _positive_int(cap) else LEGACY_DEFAULT_MAX_TOKENS
    return Budget(wanted=each * choices, choices=choices, caps=("max_tokens",))


def _embeddings_budget(params: dict[str, Any]) -> Budget:
    """Embeddings': no completion, so the estimated prompt is reserved instead, and must fit what is left;
    a request of the day's only if CHATGATEWAY_EMBEDDINGS_COUNT_AS_REQUESTS says so."""
    return Budget(
        wanted=max(1, estimate_request_tokens(params)),
        caps=(),
        must_fit=True,
        counts_request=settings.CHATGATEWAY_EMBEDDINGS_COUNT_AS_REQUESTS,
    )


def _prompt_count(prompt: Any) -> int:
    """Prompts in a legacy completion's `prompt`: one string or token array, or a list of them."""
    if isinstance(prompt, list) and prompt and not all(isinstance(item, int) for item in prompt):
        return len(prompt)
    return 1


async def _reserve(attempt: RelayAttempt, params: dict[str, Any], budget: Budget) -> dict[str, Any]:
    """Reserve the request and, under a token limit, its `budget`; return the parameters with every
    completion cap it sent (of `budget.caps`), or the first of them if it sent none, set to each
    answer's share of the budget reserved."""
    # Shielded: if the client goes away while the reservation waits for the quota row's lock, the
    # reservation still completes in its thread; it is then given back before the cancellation goes on.
    reserving = asyncio.ensure_future(
        in_db(
            attempt.reserve,
            completion_tokens=budget.wanted,
            budget_must_fit=budget.must_fit,
            counts_request=budget.counts_request,
            answers=budget.choices if budget.caps else 1,  # each answer capped gets a token at least
        )
    )
    try:
        reservation = await asyncio.shield(reserving)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # QuotaExceeded or a database error: nothing was taken
            await reserving
            await in_db(attempt.refund)
        raise
    if reservation.token_budget is None or not budget.caps:
        return params
    # Each of the choices may use its cap: together they stay within the budget. A cap the client set lower
    # stays as it is (a max_tokens of 5 beside a max_completion_tokens of 100; a legacy echo's 0).
    share = max(1, reservation.token_budget // budget.choices)
    present = [name for name in budget.caps if name in params] or [budget.caps[0]]
    return {**params, **{name: _lower(params.get(name), share) for name in present}}


def _lower(sent: Any, share: int) -> int:
    """`share`, or the client's own cap (a checked integer or None) if it is lower."""
    return min(sent, share) if isinstance(sent, int) else share


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
