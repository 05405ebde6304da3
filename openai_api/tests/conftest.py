from __future__ import annotations

import socket

import openai
import pytest
from cryptography.fernet import Fernet

from accounts.tokens import issue_access_token
from devtools.devupstream import DevUpstream
from providers import catalog
from providers.models import Deployment, Model, Provider, ProviderKey

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


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


@pytest.fixture
def no_internet(monkeypatch):
    """For the tests of third-party Python clients (LangChain): LangSmith tracing off, and every host name but
    the local ones refused and noted while the test runs, so that a tokenizer download or a trace fails it."""
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    looked_up: list[str] = []
    resolve = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOCAL_HOSTS:
            looked_up.append(name)
            raise socket.gaierror(f"{name}: no host but this one in this test")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
    yield
    assert looked_up == []
