"""Fixtures of the relay's tests, among them several upstreams and a catalog made with the ORM (routing)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.db import OperationalError

from devtools.devupstream import DevUpstream
from providers import catalog
from providers.models import Deployment, Model, Provider, ProviderKey
from relay import outbox
from relay.models import UsageRecord


@pytest.fixture
def database_fails(monkeypatch):
    """The relay's writes after the upstream's answer fail, as when the database has just gone away."""

    def gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(UsageRecord, "insert", gone)  # the relay's own write of a record
    monkeypatch.setattr(UsageRecord.objects, "create", gone)  # the outbox's and a lost request's
    monkeypatch.setattr("relay.services.settle_request", gone)
    monkeypatch.setattr("relay.services.refund_request", gone)
    monkeypatch.setattr(outbox, "start_flusher", lambda: None)  # these tests flush by hand
    return monkeypatch


@pytest.fixture
def upstreams():
    """Start development upstreams of one's own, each on its own port (`start(**attributes)`), for several
    providers; stopped after the test."""
    started = []

    def start(**attributes) -> DevUpstream:
        upstream = DevUpstream().start()
        for name, value in attributes.items():
            setattr(upstream, name, value)
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        upstream.stop()


@pytest.fixture
def routes(transactional_db, settings):
    """Configure providers and models with the ORM (`routes.provider(...)`, `routes.model(...)`), then
    `routes.load()` the catalog, as an administrator's save would; the implicit catalog comes back after."""
    settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    catalog.forget()
    yield Routes()
    catalog.forget()


class Routes:
    def provider(self, name: str, upstream: DevUpstream | str, *, keys: tuple[str, ...] | None = None, **fields):
        """A provider at `upstream` (or a URL), with `keys` (default: the upstream's own key; () for none)."""
        url = upstream if isinstance(upstream, str) else upstream.url
        if keys is None:
            keys = (upstream.key,) if isinstance(upstream, DevUpstream) else ("sk-unused-key",)
        fields.setdefault("max_retries", 0)
        fields.setdefault("timeout", 5.0)
        provider = Provider.objects.create(name=name, base_url=url, **fields)
        for index, secret in enumerate(keys):
            key = ProviderKey(provider=provider, label=f"{name} key {index}")
            key.set_secret(secret)
            key.save()
        return provider

    def model(self, name: str, *deployments: tuple) -> Model:
        """A public model served by `deployments`: (provider, upstream model[, priority[, weight]])."""
        model = Model.objects.create(name=name)
        for provider, upstream_model, *rest in deployments:
            priority, weight = (*rest, 1, 1)[:2]
            Deployment.objects.create(
                model=model, provider=provider, upstream_model=upstream_model, priority=priority, weight=weight
            )
        return model

    def load(self) -> catalog.Catalog:
        return catalog.refresh()
