"""An ASGI middleware that enforces the body size limit before Django reads the body.

Django's ASGI handler reads the whole body into a temporary file before any view, authentication or
size check runs, so without this anyone could make a worker write gigabytes to disk and only then
get a 401 or 413. Here a declared `Content-Length` over the limit is refused at once, and a chunked
body (no `Content-Length`) is read only up to the limit; within it, the body is handed to Django with
the `Content-Length` it lacked, since Django reads a body only as far as its declared length.

Headers are bounded here too (CHATGATEWAY_MAX_HEADER_BYTES, 431): the HTTP server's own limit depends
on how the bytes happen to arrive, and Django would otherwise copy every header into each request.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

from core.errors import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestBodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if sum(len(name) + len(value) for name, value in scope["headers"]) > settings.CHATGATEWAY_MAX_HEADER_BYTES:
            return await _refuse(scope, send, 431, _headers_too_large(), "headers_too_large")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > limit:
                return await _refuse(scope, send, 413, _body_too_large(limit), "payload_too_large")
            return await self.app(scope, receive, send)
        if b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            return await self.app(scope, receive, send)
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > limit:
                return await _refuse(scope, send, 413, _body_too_large(limit), "payload_too_large")
            if not message.get("more_body"):
                break
        scope = {**scope, "headers": [*scope["headers"], (b"content-length", str(len(body)).encode())]}
        return await self.app(scope, _replaying(bytes(body), receive), send)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body already read, then passes on whatever comes next (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _body_too_large(limit: int) -> str:
    return f"The request body is too large; the limit is {limit // 1024} KiB."


def _headers_too_large() -> str:
    limit = settings.CHATGATEWAY_MAX_HEADER_BYTES // 1024
    return f"The request's headers are too large; the limit is {limit} KiB in all."


async def _refuse(scope: Scope, send: Send, status: int, message: str, code: str) -> None:
    """`status` in the shape of the API asked: OpenAI's for /v1, ChatAPI's envelope, or DRF's."""
    body = error_body(path=scope.get("path", ""), message=message, code=code)
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
               (b"connection", b"close")]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
