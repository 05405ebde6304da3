"""Every request's id: taken from a trusted proxy's `X-Request-ID` or made here, returned in the response's
`X-Request-ID` (errors, 404s and streams too), written in each log line of the request, stored in its usage
record and sent upstream, so that one id finds a request in the gateway's logs, its records and the
provider's logs.

`RequestIds` is the outermost ASGI middleware (chatgateway/asgi.py), in front of both lanes and of the body
limit, so no response leaves without the header. It must see the connecting peer's address, before
uvicorn's proxy headers replace it with the client's: a client's own `X-Request-ID` is believed only when
it comes through a proxy of FORWARDED_ALLOW_IPS (which sets or passes one), and only if it looks like an
id (at most 128 characters of letters, digits and `-_.:+=/@`); anything else gets a new id. An id a
client could choose freely would let it write what it likes into the logs and records of others' lookups.
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

HEADER = "X-Request-ID"
_HEADER_KEY = b"x-request-id"
_VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+=/@-]{0,127}")

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def current() -> str:
    """This request's id, or "" outside a request (a command, a thread of the process)."""
    return _current.get()


def upstream_headers() -> dict[str, str]:
    """The header that gives the upstream this request's id, so that a provider's logs can be matched."""
    request_id = _current.get()
    return {HEADER: request_id} if request_id else {}


def new() -> str:
    return uuid.uuid4().hex


def valid(value: str) -> bool:
    return _VALID.fullmatch(value) is not None


class TrustedPeers:
    """Addresses and networks as FORWARDED_ALLOW_IPS lists them (comma-separated; `*`: every peer)."""

    def __init__(self, spec: str) -> None:
        items = [item.strip() for item in spec.split(",") if item.strip()]
        self.everyone = "*" in items
        self.networks = []
        for item in items:
            if item != "*":
                try:
                    self.networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:  # a host name or a Unix socket path: uvicorn's own matches those
                    continue

    def __contains__(self, host: str | None) -> bool:
        if self.everyone:
            return True
        try:
            address = ipaddress.ip_address(host or "")
        except ValueError:
            return False
        return any(address in network for network in self.networks)


class RequestIds:
    """ASGI middleware: the request's id in a context variable for the request's code and logs, and in the
    response's headers."""

    def __init__(self, app: ASGIApp, *, trusted: str) -> None:
        self.app = app
        self.trusted = TrustedPeers(trusted)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = self._given(scope) or new()
        encoded = request_id.encode()
        token = _current.set(request_id)

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":  # the one X-Request-ID of the response is this one
                headers = [header for header in message.get("headers", ()) if header[0].lower() != _HEADER_KEY]
                message = {**message, "headers": [*headers, (_HEADER_KEY, encoded)]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)

    def _given(self, scope: Scope) -> str | None:
        client = scope.get("client")
        if not client or client[0] not in self.trusted:
            return None
        for name, value in scope["headers"]:
            if name == _HEADER_KEY:
                given = value.decode("latin-1")
                return given if valid(given) else None
        return None


class RequestIdFilter(logging.Filter):
    """Gives every log record `request_id`: its request's, or "-" outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get() or "-"
        return True
