"""The SDK's clients: one per (event loop, provider, key), made on first use, each on the SDK's aiohttp
transport (`openai.DefaultAioHttpClient`) with its own connection pool (docs/performance.md, issue 17)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import aiohttp
import httpx2
import openai
from aiohttp.http_exceptions import HttpProcessingError

from providers.catalog import KeyEntry, ProviderEntry

RETRY_BACKOFF = 0.5  # seconds before a deployment's first retry, doubling after each
MAX_RETRY_PAUSE = 4.0
# The SDK insists on a key. A provider that takes none (a local server) gets this placeholder, and each
# request sent to it omits the Authorization header (`NO_AUTHORIZATION`), so the placeholder never leaves.
NO_KEY = "no-key"
NO_AUTHORIZATION = {"Authorization": openai.Omit()}
# Each client's pool: as many connections as the SDK's own default (its httpx transport's, before issue 17),
# per provider and key per process, so 1,000 streams held at once by one worker never wait for one; idle ones
# are kept 5 s (httpx's default) for the next request.
LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=5.0)

used_secrets: set[str] = set()  # every key a client was made with, for redaction (errors.known_keys)
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], openai.AsyncOpenAI]] = (
    weakref.WeakKeyDictionary()
)


def client_for(provider: ProviderEntry, key: KeyEntry | None) -> openai.AsyncOpenAI:
    """The SDK client of the running event loop (its connection pool belongs to that loop) for `provider`
    called with `key` (None: no key). A server has one loop per worker process, so this is one client per
    provider and key per process; the SDK's own retries are off: the router retries (relay/upstream/routing.py)."""
    loop = asyncio.get_running_loop()
    clients = _clients.setdefault(loop, {})
    identity = (
        provider.name, provider.kind, provider.base_url, provider.api_version,
        tuple(sorted(provider.headers.items())), provider.timeout, key.secret if key else None,
    )  # fmt: skip
    client = clients.get(identity)
    if client is None:
        if len(clients) > 256:  # the catalog changed many times over: drop the clients of old configurations
            clients.clear()
        if key is not None:
            used_secrets.add(key.secret)
        client = clients[identity] = _make(provider, key.secret if key else NO_KEY)
    return client


def _make(provider: ProviderEntry, api_key: str) -> openai.AsyncOpenAI:
    http_client = _AioHttpClient(timeout=provider.timeout, limits=LIMITS)
    if provider.kind == "azure":
        return openai.AsyncAzureOpenAI(
            azure_endpoint=provider.base_url,
            api_version=provider.api_version,
            api_key=api_key,
            timeout=provider.timeout,
            default_headers=dict(provider.headers),
            max_retries=0,
            http_client=http_client,
        )
    return openai.AsyncOpenAI(
        base_url=provider.base_url,
        api_key=api_key,
        timeout=provider.timeout,
        default_headers=dict(provider.headers),
        max_retries=0,
        http_client=http_client,
    )


class _AioHttpClient(openai.DefaultAioHttpClient):  # type: ignore[misc,valid-type]
    """The SDK's aiohttp client (an httpx2 client whose transport is aiohttp: less CPU per request than
    httpx2's own: docs/performance.md), its transports wrapped in `_Faults`. Proxies from the
    environment go through `_init_proxy_transport`, as with httpx2."""

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx2.AsyncBaseTransport:
        return _Faults(super()._init_transport(*args, **kwargs))

    def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> httpx2.AsyncBaseTransport:
        return _Faults(super()._init_proxy_transport(*args, **kwargs))


class _Faults(httpx2.AsyncBaseTransport):
    """The SDK's aiohttp transport, failing as httpx2's own does, so that the fault table (docs/faults.md)
    holds whatever the transport. The SDK's copy of httpx-aiohttp maps every aiohttp connection error it
    does not list to `httpx2.ConnectTimeout`: a connection the upstream dropped or reset, before its
    answer or in the middle of a stream, would be a timeout (504 `upstream_timeout`, not retried; a stream
    `upstream_stream_stalled`). Here it is what httpx2 raises for it, a `RemoteProtocolError` (502
    `upstream_unreachable`, retried; a stream `upstream_stream_cut`); real timeouts stay timeouts, and an
    aiohttp error it does not map at all (an answer that is not HTTP) is one too, not an error the SDK
    would let through unwrapped. It also closes its aiohttp session when dropped unclosed (a test's event
    loop gone, the clients of an old configuration), where aiohttp would log "Unclosed client session"."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if not isinstance(self._inner.client, aiohttp.ClientSession):
            session = self._inner.client = self._inner.get_client()
            weakref.finalize(session, _close_quietly, session.connector)  # dropped in a cycle: before __del__
        try:
            response = await self._inner.handle_async_request(request)
        except Exception as exc:
            _raise_as_httpx(exc)
        response.stream = _Body(response.stream)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __del__(self) -> None:  # dropped with its client (refcount): before its session can complain
        if isinstance(session := self._inner.client, aiohttp.ClientSession):
            _close_quietly(session.connector)


class _Body(httpx2.AsyncByteStream):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except Exception as exc:
            _raise_as_httpx(exc)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        except Exception as exc:
            _raise_as_httpx(exc)


def _raise_as_httpx(exc: Exception) -> NoReturn:
    """Raise the httpx2 error that httpx2's own transport would have raised for `exc` (`exc` if it is one)."""
    cause = exc.__cause__ if isinstance(exc, httpx2.HTTPError) else exc
    if isinstance(cause, aiohttp.ClientError | HttpProcessingError):
        if isinstance(cause, aiohttp.ServerTimeoutError):  # connect and read timeouts (sock_connect, sock_read)
            if not isinstance(exc, httpx2.TimeoutException):
                raise httpx2.ReadTimeout(str(cause)) from cause
        elif isinstance(exc, httpx2.TimeoutException) or not isinstance(exc, httpx2.HTTPError):
            raise httpx2.RemoteProtocolError(str(cause) or type(cause).__name__) from cause
    raise exc


def _close_quietly(connector: aiohttp.BaseConnector | None) -> None:
    """Close a dropped session's connections at once (nothing can await it any more)."""
    if connector is not None and not connector.closed:
        connector._close()  # close()'s synchronous half: every socket closed (none if the loop is gone already)


def forget_client_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in {"OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_TIMEOUT"}:
        _clients.clear()
        used_secrets.clear()  # tests: one test's keys are no concern of the next's redaction
