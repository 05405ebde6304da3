"""Routing one request over its model's deployments (providers.catalog): which to try, in what order,
with which key, and what to do when one fails.

- **Order**: the deployments whose provider speaks the endpoint, by priority (lower first), in weighted
  random order among equal priorities (`rng`, which tests seed), leaving out those whose circuit breaker
  is open and those whose provider's keys all rest; if that leaves none, all of them in that order
  (trying is better than refusing).
- **Fallback**, all within one deadline (OPENAI_TIMEOUT from the first call): a connection failure, a
  timeout (each call gets at most its provider's timeout), a 5xx, a 429 or a 404 moves on to the next
  deployment, after the provider's own `max_retries` on the same deployment with the usual backoff for
  the passing ones (connection, 5xx, 429 on its last key). A 400/422 is the request's fault: raised at
  once. The caller only calls this before anything reached its client, so that nothing is sent twice.
- **Keys in turn**: a provider's keys round-robin per process. A 401/403 marks the key refused
  (`providers.services.mark_key_refused`, in a database thread; not the implicit provider's, which has
  no row) and the provider's next key is tried; a 429 rests the key for the provider's Retry-After (or
  `KEY_REST_SECONDS`) and the next key is tried.
- **Circuit breaker** per deployment, per process: CHATGATEWAY_BREAKER_FAILURES failures in a row open
  it for CHATGATEWAY_BREAKER_COOLDOWN_SECONDS; then one request probes it: success closes it, failure
  opens it again.
Every call is counted in the request's `Trail`, and each failure leaves its reason code there (never a
key, an address or the provider's text), for the usage record.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import openai
from django.conf import settings
from django.db import DatabaseError

from core.db import in_db
from providers import catalog, services
from providers.catalog import DeploymentEntry, KeyEntry, ModelEntry, PriceEntry, ProviderEntry
from relay.upstream.clients import MAX_RETRY_PAUSE, RETRY_BACKOFF, client_for
from relay.upstream.errors import (
    NotServedOnEndpoint,
    UpstreamBusy,
    UpstreamError,
    UpstreamMisconfigured,
    UpstreamRejected,
    UpstreamTimeout,
    domain_error,
    logged,
    retryable,
)

logger = logging.getLogger("relay.upstream")
T = TypeVar("T")

rng = random.Random()  # noqa: S311 (a share of traffic, not a secret); the weighted order, tests seed it
KEY_REST_SECONDS = 10.0  # a key's rest after a 429 that gave no Retry-After
# A refused key's rest in this process: long enough for the catalog, reloaded once the refusal is stored,
# to leave it out; short enough that a key an administrator re-enables is soon used again.
REFUSED_KEY_REST_SECONDS = 60.0


def clock() -> float:
    """The clock of breakers and key rests (monotonic); tests move it."""
    return time.monotonic()


@dataclasses.dataclass
class Trail:
    """What routing one request took: its calls upstream, the reasons of those that failed, and the
    deployment that answered, with its price in the snapshot it was routed by (None: unpriced, or no
    deployment answered)."""

    attempts: int = 0
    failures: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    provider: str = ""
    upstream_model: str = ""
    deployment: DeploymentEntry | None = None
    price: PriceEntry | None = None


Call = Callable[[openai.AsyncOpenAI, dict[str, Any], float, ProviderEntry], Awaitable[T]]


class _NextDeployment(Exception):
    def __init__(self, error: UpstreamError) -> None:
        super().__init__(error.reason)
        self.error = error


async def route(
    params: dict[str, Any], trail: Trail, call: Call[T], *, endpoint: str = "chat", only_provider: str = ""
) -> T:
    """`await call(client, body, timeout, provider)` on the deployments of `params["model"]` in turn (of
    `only_provider` alone when named: the one that keeps what the request refers to), until one answers;
    raises the last deployment's UpstreamError when none does."""
    snapshot = catalog.current()
    model = snapshot.model(str(params["model"]))
    if model is None:  # the model was removed between the request's check and now
        raise logged(UpstreamMisconfigured("model_not_routable"))
    deployments = deployments_in_order(model, endpoint=endpoint)
    if only_provider:
        deployments = [deployment for deployment in deployments if deployment.provider.name == only_provider]
    if not deployments:
        raise NotServedOnEndpoint
    deadline = time.monotonic() + settings.OPENAI_TIMEOUT
    error: UpstreamError | None = None
    for deployment in deployments:
        if time.monotonic() >= deadline:
            break
        try:
            result = await _on_deployment(deployment, params, trail, call, deadline)
        except _NextDeployment as failed:
            error = failed.error
            continue
        trail.provider, trail.upstream_model = deployment.provider.name, deployment.upstream_model
        trail.deployment, trail.price = deployment, snapshot.price(model.name, deployment)
        return result
    raise error or logged(UpstreamTimeout("upstream_timeout"))


async def _on_deployment(
    deployment: DeploymentEntry, params: dict[str, Any], trail: Trail, call: Call[T], deadline: float
) -> T:
    provider = deployment.provider
    body = body_for(params, deployment)
    keys = keys_in_turn(provider)
    error: UpstreamError | None = None
    for index, key in enumerate(keys):
        last_key = index == len(keys) - 1
        for retry in itertools.count():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _NextDeployment(error or UpstreamTimeout("upstream_timeout"))
            trail.attempts += 1
            probe = _breaker_trying(deployment)
            try:
                result = await call(client_for(provider, key), body, min(remaining, provider.timeout), provider)
            except (openai.OpenAIError, ValueError, UpstreamError) as exc:
                error = exc if isinstance(exc, UpstreamError) else domain_error(exc)
                trail.failures.append(_failure(deployment, exc, error))
                move = await _after_failure(deployment, key, exc, error, probe=probe)
            except BaseException:
                _breaker_abandoned(deployment, probe)
                raise
            else:
                if _breaker_succeeded(deployment):
                    await _note_health(deployment, resting=False)
                return result
            if move in {"next_key", "rest_key"} and not last_key:
                break
            if move in {"rest_key", "retry"} and _may_retry(provider, retry, deadline):
                await asyncio.sleep(_pause(retry))
                continue
            raise _NextDeployment(error)
    raise _NextDeployment(error or UpstreamMisconfigured("upstream_no_key"))


async def _after_failure(
    deployment: DeploymentEntry, key: KeyEntry | None, exc: Exception, error: UpstreamError, *, probe: bool
) -> str:
    """What the failure means: "next_key" (refused), "rest_key" (rate-limited: the next key, or on the last
    one a passing failure), "retry" (a passing failure), "next_deployment"; raises the error when no other
    deployment would do better (the request itself is wrong)."""
    provider = deployment.provider
    if isinstance(error, UpstreamRejected):
        _breaker_abandoned(deployment, probe)  # it answered: the request, not the deployment, is wrong
        raise error
    if isinstance(error, UpstreamMisconfigured) and error.reason.startswith("upstream_auth_"):
        _breaker_abandoned(deployment, probe)
        if key is not None:
            _rest(provider, key, REFUSED_KEY_REST_SECONDS)
            if key.id is not None:
                await _mark_refused(key, error.reason)
        return "next_key"
    passing = isinstance(error, UpstreamTimeout) or (
        isinstance(exc, openai.OpenAIError) and not isinstance(exc, openai.APITimeoutError) and retryable(exc)
    )
    if passing:
        if _breaker_failed(deployment):
            await _note_health(deployment, resting=True, reason=error.reason)
    else:
        _breaker_abandoned(deployment, probe)
    if isinstance(error, UpstreamBusy):
        if key is not None:
            _rest(provider, key, float(error.retry_after or KEY_REST_SECONDS))
        return "rest_key"
    if error.reason == "upstream_not_found":
        return "next_deployment"
    if isinstance(error, UpstreamTimeout):
        return "next_deployment"  # its share of the deadline is spent: another deployment may answer in time
    if passing:
        return "retry"
    raise error


def _may_retry(provider: ProviderEntry, retry: int, deadline: float) -> bool:
    return retry < provider.max_retries and time.monotonic() + _pause(retry) < deadline


def _pause(retry: int) -> float:
    return min(RETRY_BACKOFF * 2**retry, MAX_RETRY_PAUSE)


def _failure(deployment: DeploymentEntry, exc: Exception, error: UpstreamError) -> dict[str, Any]:
    """A failed attempt as recorded: our reason code and the HTTP status, nothing the provider wrote."""
    status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
    return {
        "provider": deployment.provider.name,
        "model": deployment.upstream_model,
        "reason": error.reason,
        "status": status,
    }


async def _mark_refused(key: KeyEntry, reason: str) -> None:
    try:
        await in_db(services.mark_key_refused, key.id, reason)
    except DatabaseError:  # the key rests in this process anyway; the next refusal tries again
        logger.warning("could not mark a refused provider key (id %s) as refused", key.id)


# --- Which deployments, in which order --------------------------------------------------------------


def deployments_in_order(model: ModelEntry, *, endpoint: str = "chat") -> list[DeploymentEntry]:
    """The deployments to try, in order (see the module's docstring)."""
    speaking = sorted((d for d in model.deployments if endpoint in d.provider.endpoints), key=lambda d: d.priority)
    ordered: list[DeploymentEntry] = []
    for _, group in itertools.groupby(speaking, key=lambda d: d.priority):
        ordered.extend(_weighted_order(list(group)))
    now = clock()
    ready = [d for d in ordered if _breaker_admits(d, now) and _has_awake_key(d.provider, now)]
    return ready or ordered


def _weighted_order(deployments: list[DeploymentEntry]) -> list[DeploymentEntry]:
    """A random order in which each deployment comes first with a chance proportional to its weight
    (Efraimidis and Spirakis: sort by u^(1/w))."""
    if len(deployments) < 2:
        return deployments
    return sorted(deployments, key=lambda d: rng.random() ** (1 / max(1, d.weight)), reverse=True)


def body_for(params: dict[str, Any], deployment: DeploymentEntry) -> dict[str, Any]:
    """The request as this deployment gets it: its provider's model name, and the completion cap in the
    provider's own parameter only (a reasoning model refuses `max_tokens`; an older server ignores
    `max_completion_tokens`). The implicit provider gets the client's parameters as they are, as before."""
    body = {**params, "model": deployment.upstream_model}
    if deployment.provider.id is None:
        return body
    own = deployment.provider.completion_cap
    caps = [body.pop(name) for name in ("max_tokens", "max_completion_tokens") if name in body]
    limits = [cap for cap in caps if isinstance(cap, int) and not isinstance(cap, bool)]
    if limits:
        body[own] = min(limits)
    elif caps:
        body[own] = caps[0]  # not an integer: the provider says what it thinks of it
    return body


# --- Keys in turn -----------------------------------------------------------------------------------

_lock = threading.Lock()
_turns: dict[str, int] = {}
_resting: dict[tuple[str, int | None, str], float] = {}  # (provider, key id, last four) → until, by clock()


def keys_in_turn(provider: ProviderEntry) -> list[KeyEntry | None]:
    """The provider's keys to try, starting with the next in turn, those resting left out (all of them
    if all rest); [None] for a provider that takes no key."""
    if not provider.keys:
        return [None]
    with _lock:
        turn = _turns.get(provider.name, 0)
        _turns[provider.name] = turn + 1
    start = turn % len(provider.keys)
    keys = [*provider.keys[start:], *provider.keys[:start]]
    now = clock()
    awake = [key for key in keys if _resting.get(_key_id(provider, key), 0.0) <= now]
    return list(awake or keys)


def _has_awake_key(provider: ProviderEntry, now: float) -> bool:
    return not provider.keys or any(_resting.get(_key_id(provider, key), 0.0) <= now for key in provider.keys)


def _rest(provider: ProviderEntry, key: KeyEntry, seconds: float) -> None:
    with _lock:
        _resting[_key_id(provider, key)] = clock() + seconds


def _key_id(provider: ProviderEntry, key: KeyEntry) -> tuple[str, int | None, str]:
    return (provider.name, key.id, key.last4)


# --- Circuit breakers -------------------------------------------------------------------------------


@dataclasses.dataclass
class Breaker:
    failures: int = 0  # in a row
    opened_at: float | None = None  # by clock(); None: closed
    probing: bool = False  # open, cooled down, and one request is probing it

    def state(self, now: float) -> str:
        if self.opened_at is None:
            return "closed"
        return "open" if now - self.opened_at < settings.CHATGATEWAY_BREAKER_COOLDOWN_SECONDS else "half_open"


_breakers: dict[tuple[str, str, int | None], Breaker] = {}


def breaker_of(deployment: DeploymentEntry) -> Breaker:
    key = (deployment.provider.name, deployment.upstream_model, deployment.id)
    with _lock:
        return _breakers.setdefault(key, Breaker())


def _breaker_admits(deployment: DeploymentEntry, now: float) -> bool:
    breaker = breaker_of(deployment)
    state = breaker.state(now)
    return state == "closed" or (state == "half_open" and not breaker.probing)


def _breaker_trying(deployment: DeploymentEntry) -> bool:
    """A call is about to be made; True if it is the probe of a cooled-down breaker."""
    breaker = breaker_of(deployment)
    with _lock:
        if breaker.state(clock()) == "half_open" and not breaker.probing:
            breaker.probing = True
            return True
    return False


def _breaker_succeeded(deployment: DeploymentEntry) -> bool:
    """The deployment answered; True if that closed its breaker."""
    breaker = breaker_of(deployment)
    with _lock:
        was_open = breaker.opened_at is not None
        breaker.failures, breaker.opened_at, breaker.probing = 0, None, False
    return was_open


def _breaker_failed(deployment: DeploymentEntry) -> bool:
    """A passing failure; True if it opened the breaker (or, a probe's, opened it again)."""
    breaker = breaker_of(deployment)
    opened = False
    with _lock:
        breaker.failures += 1
        if breaker.opened_at is not None or breaker.failures >= settings.CHATGATEWAY_BREAKER_FAILURES:
            if breaker.opened_at is None or breaker.probing:  # a failure while open, untried, changes nothing
                opened = breaker.opened_at is None
                breaker.opened_at = clock()
                logger.warning(
                    "circuit breaker opened: %s on provider %s", deployment.upstream_model, deployment.provider.name
                )
            breaker.probing = False
    return opened


async def _note_health(deployment: DeploymentEntry, *, resting: bool, reason: str = "") -> None:
    """Tell admin that this process's breaker opened or closed (the implicit catalog has no rows)."""
    if deployment.id is None:
        return
    try:
        await in_db(services.note_deployment_health, deployment.id, resting=resting, reason=reason)
    except DatabaseError:  # the breaker works without it; admin shows the state the database last heard
        logger.warning("could not note the health of deployment %s", deployment.id)


def _breaker_abandoned(deployment: DeploymentEntry, probe: bool) -> None:
    """A call that says nothing about the deployment's health: a probe it was gives way to the next."""
    if probe:
        with _lock, contextlib.suppress(KeyError):
            breaker_of_key = (deployment.provider.name, deployment.upstream_model, deployment.id)
            _breakers[breaker_of_key].probing = False


def reset_state() -> None:
    """Forget every breaker, key rest and turn (tests)."""
    with _lock:
        _breakers.clear()
        _resting.clear()
        _turns.clear()
