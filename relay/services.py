"""A relay: take one request from the user's quota, ask the upstream, give it back on failure,
and record the attempt either way."""

from __future__ import annotations

import logging
import time

from django.db import DatabaseError

from quota.services import refund_request, reserve_request
from relay import upstream
from relay.models import UsageRecord

logger = logging.getLogger(__name__)


def relay_chat(*, user_id: int, messages: list[dict[str, str]], model: str, endpoint: str) -> upstream.Completion:
    """Relay one chat; raises QuotaExceeded (nothing asked) or UpstreamError (refunded)."""
    reservation = reserve_request(user_id=user_id)
    started = time.monotonic()
    try:
        completion = upstream.create_chat_completion(messages=messages, model=model)
    except upstream.UpstreamError as error:
        refund_request(reservation=reservation)
        record_usage(
            user_id=user_id,
            endpoint=endpoint,
            model=model,
            started=started,
            status_code=error.status,
            error=error.reason,
        )
        raise
    except BaseException:
        # Anything else (a bug, the worker being stopped) must not cost the user either.
        refund_request(reservation=reservation)
        raise
    record_usage(
        user_id=user_id,
        endpoint=endpoint,
        model=completion.model,
        started=started,
        status_code=200,
        usage=completion.usage,
        request_id=completion.request_id,
    )
    return completion


def record_usage(
    *,
    user_id: int,
    endpoint: str,
    model: str,
    started: float,
    status_code: int,
    api_key_id: int | None = None,
    stream: bool = False,
    usage: upstream.Usage | None = None,
    request_id: str | None = None,
    error: str = "",
) -> None:
    """Store one relay attempt (`started`: its time.monotonic() start).

    If the database fails now, the client still gets the answer or error it has earned (a failed
    record must not turn an answer into a 503); the loss is logged."""
    usage = usage or upstream.Usage()
    try:
        UsageRecord.objects.create(
            user_id=user_id,
            api_key_id=api_key_id,
            endpoint=endpoint,
            stream=stream,
            model=model[:200],
            status_code=status_code,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
            latency_ms=round((time.monotonic() - started) * 1000),
            upstream_request_id=(request_id or "")[:200],
            error=error,
        )
    except DatabaseError:
        logger.error("usage record lost (user %s, status %s): the database failed", user_id, status_code)
