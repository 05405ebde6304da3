"""Work that must run when a request ends, however it ends: an ASGI middleware and a registry.

A streamed relay opens the upstream stream and reserves the user's quota before the response starts.
If the client goes away between the view's return and the first byte sent, Django cancels the request
without ever starting the response's body, so no `finally` inside the body runs. Code that holds such
resources registers an async callback with `at_request_end()`; `RunAtRequestEnd` awaits every callback
once the application has returned, been cancelled or failed. Callbacks must be idempotent: the body,
when it does run, settles first and the callback then finds nothing to do.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

_callbacks: contextvars.ContextVar[list[Callable[[], Awaitable[None]]] | None] = contextvars.ContextVar(
    "request_end_callbacks", default=None
)


def at_request_end(callback: Callable[[], Awaitable[None]]) -> None:
    """Run `callback` when this request ends (outside an ASGI server, e.g. in the test client: never)."""
    callbacks = _callbacks.get()
    if callbacks is not None:
        callbacks.append(callback)


class RunAtRequestEnd:
    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        callbacks: list[Callable[[], Awaitable[None]]] = []
        token = _callbacks.set(callbacks)  # Django's tasks for this request copy this context
        try:
            await self.app(scope, receive, send)
        finally:
            _callbacks.reset(token)
            for callback in callbacks:
                try:
                    await callback()
                except Exception:
                    logger.exception("a request-end callback failed")
