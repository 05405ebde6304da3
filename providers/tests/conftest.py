from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from providers import catalog
from providers.models import Deployment, Model, Provider, ProviderKey
from providers.tests.helpers import ENCRYPTION_KEY, EXAMPLE_KEYS


@pytest.fixture(autouse=True)
def encryption_key(settings):
    settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS = [ENCRYPTION_KEY]
    return ENCRYPTION_KEY


@pytest.fixture(autouse=True)
def fresh_catalog():
    """Each test starts with no snapshot loaded (the settings fixture drops it too)."""
    catalog.forget()
    yield
    catalog.forget()


@pytest.fixture
def example_env(monkeypatch):
    for name, value in EXAMPLE_KEYS.items():
        monkeypatch.setenv(name, value)
    return EXAMPLE_KEYS


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="admin-pass-123"))
    return client


@pytest.fixture
def make_provider(db):
    def make(name: str = "openai", *, keys: tuple[str, ...] = (), **fields) -> Provider:
        fields.setdefault("base_url", f"https://{name}.example.org/v1")
        provider = Provider.objects.create(name=name, **fields)
        for secret in keys:
            key = ProviderKey(provider=provider, label=f"key of {name}")
            key.set_secret(secret)
            key.save()
        return provider

    return make


@pytest.fixture
def make_model(db):
    def make(name: str, *targets: tuple[Provider, str], **fields) -> Model:
        model = Model.objects.create(name=name, **fields)
        for priority, (provider, upstream_model) in enumerate(targets, start=1):
            Deployment.objects.create(model=model, provider=provider, upstream_model=upstream_model, priority=priority)
        return model

    return make
