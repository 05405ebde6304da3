"""The catalog as the router reads it: an immutable snapshot per process, with no database query per request.

`current()` loads it on its first call and returns the same snapshot until a newer one replaces it, which
happens
- in the process that saved a change, as soon as the change commits (`reload_after_change`, on_commit);
- in every other process, within CHATGATEWAY_PROVIDERS_REFRESH_SECONDS: a daemon thread reads the
  single-row `CatalogVersion` (bumped in the transaction of every change) and reloads when it grew.
Requests never wait for either: they keep the snapshot they got. Polling rather than PostgreSQL's
LISTEN/NOTIFY: it works on SQLite too, needs no connection held open outside the pool, and costs one
primary-key read a second per process (docs/providers.md).

With no provider configured, the catalog is implicit: one provider, "default", made of the OPENAI_*
settings, serving CHATGATEWAY_MODELS under their own names, exactly as the gateway did before providers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import Prefetch
from django.utils import timezone

from providers import crypto
from providers.models import ENDPOINTS, CatalogVersion, Deployment, Model, Price, Provider, ProviderKey

logger = logging.getLogger("providers.catalog")

IMPLICIT_PROVIDER = "default"
OPENAI_BASE_URL = "https://api.openai.com/v1"  # the SDK's own default, when OPENAI_BASE_URL is unset
# Settings the implicit catalog, the timeouts or the keys are made of: a change (override_settings) drops it.
CATALOG_SETTINGS = {
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_TIMEOUT",
    "OPENAI_MAX_RETRIES",
    "CHATGATEWAY_MODELS",
    "CHATGATEWAY_KEY_ENCRYPTION_KEYS",
    "CHATGATEWAY_PROVIDERS_REFRESH_SECONDS",
    "DATABASES",
}


@dataclass(frozen=True)
class KeyEntry:
    id: int | None
    secret: str = field(repr=False)  # never in a log line or a traceback's repr
    last4: str


@dataclass(frozen=True)
class ProviderEntry:
    id: int | None
    name: str
    kind: str  # "openai" or "azure"
    base_url: str
    api_version: str  # Azure's api-version; "" for OpenAI-compatible providers
    headers: Mapping[str, str]
    timeout: float  # seconds
    max_retries: int
    completion_cap: str  # "max_completion_tokens" or "max_tokens"
    endpoints: frozenset[str]
    keys: tuple[KeyEntry, ...]  # in turn; empty: the provider takes no key


@dataclass(frozen=True)
class DeploymentEntry:
    id: int | None
    provider: ProviderEntry
    upstream_model: str
    priority: int  # lower first
    weight: int  # among equal priorities, at least 1


@dataclass(frozen=True)
class ModelEntry:
    id: int | None
    name: str
    deployments: tuple[DeploymentEntry, ...]  # by priority, then as configured
    plan_ids: frozenset[int]  # empty: every plan, and users without one

    def allowed_for(self, plan_id: int | None) -> bool:
        """Whether a user of plan `plan_id` (None: no plan) may use this model."""
        return not self.plan_ids or plan_id in self.plan_ids


@dataclass(frozen=True)
class PriceEntry:
    """A price per million tokens, in CHATGATEWAY_CURRENCY (providers.pricing turns it into a cost).
    `cached_input` is the input price when the administrator set none."""

    id: int | None  # None: made up (worst_price)
    input: Decimal
    cached_input: Decimal
    output: Decimal
    valid_from: dt.date


@dataclass(frozen=True)
class Prices:
    """Every price row, each key's newest `valid_from` first: by deployment id, and by model name."""

    by_deployment: Mapping[int, tuple[PriceEntry, ...]] = field(default_factory=lambda: MappingProxyType({}))
    by_name: Mapping[str, tuple[PriceEntry, ...]] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Catalog:
    version: int
    implicit: bool
    models: Mapping[str, ModelEntry]
    providers: Mapping[str, ProviderEntry]
    prices: Prices = field(default_factory=Prices)

    def model(self, name: str) -> ModelEntry | None:
        return self.models.get(name)

    def price(
        self, public_model: str, deployment: DeploymentEntry | str | None = None, *, on: dt.date | None = None
    ) -> PriceEntry | None:
        """The price in force `on` (default: today in TIME_ZONE) for a request for `public_model` answered
        by `deployment` (or by the provider model of that name): the deployment's own price, else the
        price named for its provider model, else the one named for the public model; None: unpriced."""
        day = on or timezone.localdate()
        deployment_id = deployment.id if isinstance(deployment, DeploymentEntry) else None
        upstream = deployment.upstream_model if isinstance(deployment, DeploymentEntry) else deployment
        candidates = (
            self.prices.by_deployment.get(deployment_id, ()) if deployment_id is not None else (),
            self.prices.by_name.get(upstream, ()) if upstream else (),
            self.prices.by_name.get(public_model, ()),
        )
        for entries in candidates:
            if (found := in_force(entries, day)) is not None:
                return found
        return None

    def worst_price(
        self, public_model: str, *, endpoint: str | None = None, on: dt.date | None = None
    ) -> PriceEntry | None:
        """The highest input, cached input and output prices (each on its own) over the deployments a
        request for `public_model` could be routed to (those speaking `endpoint`, if given): what to reserve
        before routing picks one. None if the model is unknown or any of those deployments is unpriced (a
        cost limit can't bound a request that may be answered for nothing counted)."""
        entry = self.model(public_model)
        if entry is None:
            return None
        deployments = [d for d in entry.deployments if endpoint is None or endpoint in d.provider.endpoints]
        prices = [self.price(public_model, deployment, on=on) for deployment in deployments]
        if not prices or any(price is None for price in prices):
            return None
        return PriceEntry(
            id=None,
            input=max(price.input for price in prices),
            cached_input=max(price.cached_input for price in prices),
            output=max(price.output for price in prices),
            valid_from=max(price.valid_from for price in prices),
        )

    def model_names_for(self, plan_id: int | None) -> list[str]:
        """The public names a user of plan `plan_id` may use (None: a user without a plan), sorted."""
        return sorted(name for name, entry in self.models.items() if entry.allowed_for(plan_id))


def in_force(entries: tuple[PriceEntry, ...], day: dt.date) -> PriceEntry | None:
    """Of one key's prices (newest first), the one in force on `day`."""
    return next((entry for entry in entries if entry.valid_from <= day), None)


# --- The process's snapshot -------------------------------------------------------------------------

_catalog: Catalog | None = None
_load_lock = threading.Lock()
_poller_lock = threading.Lock()
_poller: tuple[int, threading.Thread] | None = None  # (pid, thread): a forked child starts its own


def current() -> Catalog:
    """The process's cached catalog; the database is read on the first call only."""
    catalog = _catalog
    if catalog is not None:
        return catalog
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _first_load()
    # Called from the event loop (an async view): the ORM may not run here, so the one load runs in a
    # thread of its own while the loop waits, once per process.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog-load") as pool:
        return pool.submit(_first_load_in_thread).result()


def refresh() -> Catalog:
    """Reload the catalog now, replace the process's snapshot with it, and return it."""
    return _reload(only_if_missing=False)


def forget() -> None:
    """Drop the snapshot: the next current() loads afresh (settings changed, tests)."""
    global _catalog
    with _load_lock:  # after a load under way, so that it can't put back what it read before
        _catalog = None


def forget_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in CATALOG_SETTINGS:
        forget()


def reload_after_change() -> None:
    """After a change committed in this process: reload at once, if a snapshot is in use and is older."""
    catalog = _catalog
    if catalog is not None and _stored_version() > catalog.version:
        refresh()


def _first_load() -> Catalog:
    return _reload(only_if_missing=True)


def _first_load_in_thread() -> Catalog:
    try:
        return _first_load()
    finally:
        connections.close_all()


def _reload(*, only_if_missing: bool) -> Catalog:
    """Load under the lock (one load at a time; requests never take it: they read `_catalog`)."""
    global _catalog
    with _load_lock:
        if only_if_missing and _catalog is not None:
            return _catalog  # another thread loaded it meanwhile
        catalog = _catalog = _load()
    _start_poller()
    return catalog


# --- Loading ----------------------------------------------------------------------------------------


def _stored_version() -> int:
    return CatalogVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def _load() -> Catalog:
    # The version is read before the rows: a change committed in between makes the rows newer than the
    # version, and the next poll loads again; never the other way round.
    version = _stored_version()
    prices = load_prices()
    if not Provider.objects.exists():
        return implicit_catalog(version, prices=prices)
    providers = {
        provider.name: entry
        for provider in Provider.objects.filter(enabled=True).prefetch_related(
            Prefetch("keys", queryset=ProviderKey.objects.order_by("pk"))
        )
        if (entry := _provider_entry(provider)) is not None
    }
    models = {}
    deployments = Deployment.objects.filter(enabled=True).select_related("provider").order_by("priority", "pk")
    for model in Model.objects.filter(enabled=True).prefetch_related(
        Prefetch("deployments", queryset=deployments), "plans"
    ):
        usable = tuple(
            DeploymentEntry(
                id=deployment.pk,
                provider=providers[deployment.provider.name],
                upstream_model=deployment.upstream_model,
                priority=deployment.priority,
                weight=deployment.weight,
            )
            for deployment in model.deployments.all()
            if deployment.provider.name in providers
        )
        if usable:
            plan_ids = frozenset(plan.pk for plan in model.plans.all())
            models[model.name] = ModelEntry(id=model.pk, name=model.name, deployments=usable, plan_ids=plan_ids)
    return Catalog(
        version=version,
        implicit=False,
        models=MappingProxyType(models),
        providers=MappingProxyType(providers),
        prices=prices,
    )


def load_prices() -> Prices:
    """Every price row (one query), grouped and newest first; which is in force is decided per request,
    by date, so that a price entered ahead starts on its day without a reload."""
    return prices_of(Price.objects.order_by("-valid_from", "-pk"))


def prices_of(rows: Iterable[Price]) -> Prices:
    by_deployment: dict[int, list[PriceEntry]] = {}
    by_name: dict[str, list[PriceEntry]] = {}
    for row in rows:  # newest first
        entry = PriceEntry(
            id=row.pk,
            input=row.input,
            cached_input=row.input if row.cached_input is None else row.cached_input,
            output=row.output,
            valid_from=row.valid_from,
        )
        if row.deployment_id is not None:
            by_deployment.setdefault(row.deployment_id, []).append(entry)
        elif row.model_name:
            by_name.setdefault(row.model_name, []).append(entry)
    return Prices(
        by_deployment=MappingProxyType({key: tuple(value) for key, value in by_deployment.items()}),
        by_name=MappingProxyType({key: tuple(value) for key, value in by_name.items()}),
    )


def provider_entry(provider: Provider, *, every_key: bool = False) -> ProviderEntry | None:
    """`provider` as the router sees it; None if it has keys but none usable (all disabled or refused).
    `every_key`: with its disabled and refused keys too (an administrator's connection test)."""
    return _provider_entry(provider, every_key=every_key)


def _provider_entry(provider: Provider, *, every_key: bool = False) -> ProviderEntry | None:
    stored = list(provider.keys.all())
    keys = []
    for key in stored:
        if not key.in_use and not every_key:
            continue
        try:
            keys.append(KeyEntry(id=key.pk, secret=key.secret(), last4=key.last4))
        except crypto.KeyUnreadable:
            logger.error("provider %s: key %s (…%s) can't be decrypted: left out", provider.name, key.pk, key.last4)
    if stored and not keys:
        return None
    return ProviderEntry(
        id=provider.pk,
        name=provider.name,
        kind=provider.kind,
        base_url=provider.base_url,
        api_version=provider.api_version,
        headers=MappingProxyType(dict(provider.extra_headers)),
        timeout=provider.timeout if provider.timeout is not None else settings.OPENAI_TIMEOUT,
        max_retries=provider.max_retries if provider.max_retries is not None else settings.OPENAI_MAX_RETRIES,
        completion_cap=provider.completion_cap,
        endpoints=frozenset(provider.endpoints),
        keys=tuple(keys),
    )


def implicit_catalog(version: int = 0, *, prices: Prices | None = None) -> Catalog:
    """The catalog of a gateway with no provider configured: the OPENAI_* settings and CHATGATEWAY_MODELS."""
    secret = settings.OPENAI_API_KEY
    provider = ProviderEntry(
        id=None,
        name=IMPLICIT_PROVIDER,
        kind=Provider.Kind.OPENAI.value,
        base_url=settings.OPENAI_BASE_URL or OPENAI_BASE_URL,
        api_version="",
        headers=MappingProxyType({}),
        timeout=settings.OPENAI_TIMEOUT,
        max_retries=settings.OPENAI_MAX_RETRIES,
        completion_cap=Provider.CompletionCap.MAX_TOKENS.value,  # what the gateway has always sent
        endpoints=frozenset(ENDPOINTS),  # taken to speak every endpoint natively, as OpenAI does
        keys=(KeyEntry(id=None, secret=secret, last4=secret[-4:]),) if secret else (),
    )
    models = {
        name: ModelEntry(
            id=None,
            name=name,
            deployments=(DeploymentEntry(id=None, provider=provider, upstream_model=name, priority=1, weight=1),),
            plan_ids=frozenset(),
        )
        for name in settings.CHATGATEWAY_MODELS
    }
    return Catalog(
        version=version,
        implicit=True,
        models=MappingProxyType(models),
        providers=MappingProxyType({IMPLICIT_PROVIDER: provider}),
        prices=prices or Prices(),
    )


# --- Watching for changes made by other processes ---------------------------------------------------


def _start_poller() -> None:
    global _poller
    if not settings.CHATGATEWAY_PROVIDERS_REFRESH_SECONDS:  # 0: this process doesn't watch (the test process)
        return
    with _poller_lock:
        if _poller is not None and _poller[0] == os.getpid() and _poller[1].is_alive():
            return
        thread = threading.Thread(target=_poll_forever, name="catalog-poller", daemon=True)
        _poller = (os.getpid(), thread)
    thread.start()


def _poll_forever() -> None:
    failing = False
    while interval := settings.CHATGATEWAY_PROVIDERS_REFRESH_SECONDS:
        time.sleep(interval)
        try:
            catalog = _catalog
            if catalog is not None and _stored_version() > catalog.version:
                refresh()
            failing = False
        except DatabaseError as error:  # the database is away: keep the snapshot, say so once
            if not failing:
                logger.warning("can't read the catalog's version (%s); keeping the one loaded", type(error).__name__)
            failing = True
        except Exception:  # e.g. a test run's database blocked for the test at hand: try again later
            logger.debug("catalog poll failed", exc_info=True)
        finally:
            # Give the connection back (to the pool on PostgreSQL); a thread of its own must not hold one.
            with contextlib.suppress(DatabaseError):
                connections.close_all()
