"""An administrator's connection test of a provider: each of its keys asked for the provider's list of
models, the one call every OpenAI-compatible API answers cheaply. What each key got, in our words only."""

from __future__ import annotations

import dataclasses

import openai

from providers.catalog import KeyEntry, ProviderEntry
from relay.upstream.clients import NO_AUTHORIZATION, client_for

PROBE_TIMEOUT = 10.0  # seconds, at most, a key's test waits


@dataclasses.dataclass(frozen=True)
class KeyProbe:
    key: str  # "…last4", or "no key"
    works: bool
    outcome: str  # what an administrator reads: "works (12 models)", "refused (401)", "unreachable", …


async def probe_provider(provider: ProviderEntry) -> list[KeyProbe]:
    """Ask `provider` for its models with each of its keys (or with none, if it has none)."""
    return [await _probe(provider, key) for key in (provider.keys or (None,))]


async def _probe(provider: ProviderEntry, key: KeyEntry | None) -> KeyProbe:
    name = f"…{key.last4}" if key else "no key"
    options = {"timeout": min(provider.timeout, PROBE_TIMEOUT)}
    if key is None:
        options["extra_headers"] = NO_AUTHORIZATION
    try:
        page = await client_for(provider, key).models.list(**options)
    except openai.AuthenticationError as exc:
        return KeyProbe(name, False, f"refused ({exc.status_code})")
    except openai.PermissionDeniedError as exc:
        return KeyProbe(name, False, f"refused ({exc.status_code})")
    except openai.APIStatusError as exc:
        return KeyProbe(name, False, f"answered {exc.status_code}")
    except openai.APITimeoutError:
        return KeyProbe(name, False, "no answer in time")
    except openai.APIConnectionError:
        return KeyProbe(name, False, "unreachable")
    except (openai.OpenAIError, ValueError):
        return KeyProbe(name, False, "answered something that is not a list of models")
    return KeyProbe(name, True, f"works ({len(page.data)} models)")
