from __future__ import annotations

import openai
import pytest
from cryptography.fernet import Fernet

from accounts.tokens import issue_access_token
from devtools.devupstream import DevUpstream
from providers import catalog
from providers.models import Deployment, Model, Provider, ProviderKey


@pytest.fixture
def sdk(gateway, user):
    """The official OpenAI SDK pointed at the gateway with `user`'s JWT; no retries of its own."""

    def make(credential: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{gateway.url}/v1", api_key=credential or issue_access_token(user), max_retries=0, timeout=20
        )

    return make


@pytest.fixture
def chat_only(transactional_db, settings):
    """A provider declared with `endpoints: [chat]` serving the model `smart` (as `qwen-local`), at an upstream
    of its own that speaks no Responses API (a 404 there would show a request that was not translated)."""
    upstream = DevUpstream().start()
    upstream.responses = False
    settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    catalog.forget()
    provider = Provider.objects.create(
        name="local", base_url=upstream.url, endpoints=["chat"], max_retries=0, timeout=5.0
    )
    key = ProviderKey(provider=provider, label="local key")
    key.set_secret(upstream.key)
    key.save()
    Deployment.objects.create(model=Model.objects.create(name="smart"), provider=provider, upstream_model="qwen-local")
    catalog.refresh()
    yield upstream
    catalog.forget()
    upstream.stop()
