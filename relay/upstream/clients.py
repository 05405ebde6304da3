"""The SDK's clients, and retrying passing failures within one deadline."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import openai
from django.conf import settings

from relay.upstream.errors import domain_error, retryable

logger = logging.getLogger("relay.upstream")

_CLIENT_SETTINGS = {"OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_TIMEOUT"}
T = TypeVar("T")
RETRY_BACKOFF = 0.5  # seconds before the first retry, doubling after each
MAX_RETRY_PAUSE = 4.0

_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = weakref.WeakKeyDictionary()


def async_client() -> openai.AsyncOpenAI:
    """The async SDK client of the running event loop (its connection pool belongs to that loop).

    A server has one loop per worker process, so this is one client per process; only code that
    runs a loop per call (a test's async_to_sync) gets a client per call.
    """
    loop = asyncio.get_running_loop()
    if loop not in _async_clients:
        _async_clients[loop] = openai.AsyncOpenAI(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL,
            timeout=settings.OPENAI_TIMEOUT,
            max_retries=0,
        )
    return _async_clients[loop]


def forget_client_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in _CLIENT_SETTINGS:
        _async_clients.clear()


async def with_retries_async(call: Callable[[float], Awaitable[T]]) -> T:
    """`await call(timeout)` until it succeeds, OPENAI_MAX_RETRIES run out, or OPENAI_TIMEOUT has passed.

    The SDK's own retries are off (max_retries=0): they would give each attempt a full timeout of its
    own, so that OPENAI_TIMEOUT would not bound the whole wait."""
    deadline = time.monotonic() + settings.OPENAI_TIMEOUT
    for attempt in itertools.count():
        try:
            return await call(deadline - time.monotonic())
        except (openai.OpenAIError, ValueError) as exc:
            await asyncio.sleep(_pause_before_retry(exc, attempt, deadline))
    raise AssertionError("unreachable")


def _pause_before_retry(exc: Exception, attempt: int, deadline: float) -> float:
    """How long to wait before the next attempt; raises the domain error when there is none."""
    pause = min(RETRY_BACKOFF * 2**attempt, MAX_RETRY_PAUSE)
    if attempt >= settings.OPENAI_MAX_RETRIES or not retryable(exc) or time.monotonic() + pause >= deadline:
        raise domain_error(exc) from None
    logger.info("upstream attempt %d failed (%s); retrying in %.1f s", attempt + 1, type(exc).__name__, pause)
    return pause
