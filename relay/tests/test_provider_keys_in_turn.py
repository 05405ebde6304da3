"""A provider's keys are used in turn; one the provider refuses (401/403) is marked refused and the next is
tried; one rate-limited (429) rests for the provider's Retry-After; a provider without a key gets no
Authorization header at all."""

from __future__ import annotations

from collections import Counter

from providers.models import ProviderKey
from relay.models import UsageRecord
from relay.tests.routed import ask

KEY_A = "sk-routing-key-a-0123456789abcdefghijklmnop"
KEY_B = "sk-routing-key-b-0123456789abcdefghijklmnop"
REFUSED = "sk-routing-key-refused-0123456789abcdefghij"


def _keys_used(upstream) -> Counter:
    return Counter(entry["authorization"] for entry in upstream.received if entry["path"] == "/v1/chat/completions")


def test_the_keys_of_a_provider_are_used_in_turn(gateway, user, routes, upstreams):
    upstream = upstreams(keys={KEY_A, KEY_B})
    routes.model("smart", (routes.provider("pool", upstream, keys=(KEY_A, KEY_B)), "m"))
    routes.load()

    for _ in range(4):
        assert ask(gateway, user, "smart").status_code == 200

    assert _keys_used(upstream) == Counter({f"Bearer {KEY_A}": 2, f"Bearer {KEY_B}": 2})


def test_a_refused_key_is_marked_and_the_next_key_answers(gateway, user, routes, upstreams):
    upstream = upstreams(keys={KEY_B})
    provider = routes.provider("pool", upstream, keys=(REFUSED, KEY_B))
    routes.model("smart", (provider, "m"))
    routes.load()

    statuses = [ask(gateway, user, "smart").status_code for _ in range(4)]

    assert statuses == [200] * 4
    refused = ProviderKey.objects.get(provider=provider, last4=REFUSED[-4:])
    assert refused.refused_at is not None
    assert refused.last_error == "upstream_auth_401"
    assert _keys_used(upstream)[f"Bearer {REFUSED}"] == 1, "refused once, then out of use"
    record = UsageRecord.objects.filter(attempts=2).get()
    assert record.failed_attempts == [{"provider": "pool", "model": "m", "reason": "upstream_auth_401", "status": 401}]
    assert REFUSED not in str(record.failed_attempts)


def test_a_rate_limited_key_rests_and_the_request_moves_on(gateway, user, routes, upstreams):
    upstream = upstreams(keys={KEY_A, KEY_B}, key_faults={KEY_A: "[dev:status=429]"})  # Retry-After: 7
    routes.model("smart", (routes.provider("pool", upstream, keys=(KEY_A, KEY_B)), "m"))
    routes.load()

    statuses = [ask(gateway, user, "smart").status_code for _ in range(4)]

    assert statuses == [200] * 4
    assert _keys_used(upstream) == Counter({f"Bearer {KEY_A}": 1, f"Bearer {KEY_B}": 4})


def test_a_provider_without_a_key_is_called_without_an_authorization_header(gateway, user, routes, upstreams):
    upstream = upstreams(keyless=True)
    routes.model("local", (routes.provider("local", upstream, keys=()), "qwen"))
    routes.load()

    assert ask(gateway, user, "local").status_code == 200

    assert upstream.received[-1]["authorization"] is None


def test_an_azure_provider_is_called_at_its_deployments_url_with_its_api_version(gateway, user, routes, upstreams):
    """Azure OpenAI's addresses, through the SDK's AsyncAzureOpenAI: the development upstream doesn't speak
    them (nor Azure's `api-key` header: a 401, the next deployment), but it shows what it was sent."""
    azure, fallback = upstreams(), upstreams()
    provider = routes.provider(
        "azure", f"http://127.0.0.1:{azure.port}", keys=(KEY_A,), kind="azure", api_version="2024-10-21"
    )
    routes.model("smart", (provider, "my-gpt4o", 1), (routes.provider("second", fallback), "m", 2))
    routes.load()

    assert ask(gateway, user, "smart").status_code == 200

    sent = azure.received[-1]
    assert sent["path"] == "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21"
    assert sent["authorization"] is None  # Azure's key goes in `api-key`
    assert UsageRecord.objects.get().provider == "second"
