"""The SDK's clients: one per (event loop, provider, key), made on first use."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import openai

from providers.catalog import KeyEntry, ProviderEntry

RETRY_BACKOFF = 0.5  # seconds before a deployment's first retry, doubling after each
MAX_RETRY_PAUSE = 4.0
# The SDK insists on a key. A provider that takes none (a local server) gets this placeholder, and each
# request sent to it omits the Authorization header (`NO_AUTHORIZATION`), so the placeholder never leaves.
NO_KEY = "no-key"
NO_AUTHORIZATION = {"Authorization": openai.Omit()}

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
    if provider.kind == "azure":
        return openai.AsyncAzureOpenAI(
            azure_endpoint=provider.base_url,
            api_version=provider.api_version,
            api_key=api_key,
            timeout=provider.timeout,
            default_headers=dict(provider.headers),
            max_retries=0,
        )
    return openai.AsyncOpenAI(
        base_url=provider.base_url,
        api_key=api_key,
        timeout=provider.timeout,
        default_headers=dict(provider.headers),
        max_retries=0,
    )


def forget_client_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in {"OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_TIMEOUT"}:
        _clients.clear()
        used_secrets.clear()  # tests: one test's keys are no concern of the next's redaction
