"""A deployment failing CHATGATEWAY_BREAKER_FAILURES times in a row rests for
CHATGATEWAY_BREAKER_COOLDOWN_SECONDS (its requests go straight to the next deployment), then one request
probes it: success closes the breaker, failure opens it again. The breaker's clock is moved, not slept."""

from __future__ import annotations

import pytest

from providers.models import Deployment
from relay.models import UsageRecord
from relay.tests.routed import ask
from relay.upstream import routing


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(routing, "clock", lambda: now[0])
    return now


@pytest.fixture
def failing_first(routes, upstreams, settings):
    settings.CHATGATEWAY_BREAKER_FAILURES = 3
    settings.CHATGATEWAY_BREAKER_COOLDOWN_SECONDS = 30
    first, second = upstreams(fault="[dev:status=503]"), upstreams()
    routes.model(
        "smart", (routes.provider("first", first), "model-one", 1), (routes.provider("second", second), "model-two", 2)
    )
    routes.load()
    return first, second


def test_the_breaker_opens_after_the_failures_and_a_probe_closes_it(gateway, user, clock, failing_first):
    first, _second = failing_first
    for _ in range(3):
        assert ask(gateway, user, "smart").status_code == 200
    assert first.received_count == 3

    assert ask(gateway, user, "smart").status_code == 200
    assert first.received_count == 3, "open: the request went straight to the second deployment"
    assert UsageRecord.objects.order_by("-id").first().attempts == 1

    clock[0] += 29
    ask(gateway, user, "smart")
    assert first.received_count == 3, "still cooling down"

    clock[0] += 2
    first.fault = ""
    assert ask(gateway, user, "smart").status_code == 200
    assert first.received_count == 4, "the probe"
    assert UsageRecord.objects.order_by("-id").first().provider == "first"

    ask(gateway, user, "smart")
    assert first.received_count == 5, "closed again"


def test_a_failed_probe_opens_the_breaker_again(gateway, user, clock, failing_first):
    first, _second = failing_first
    for _ in range(3):
        ask(gateway, user, "smart")

    clock[0] += 31
    assert ask(gateway, user, "smart").status_code == 200
    assert first.received_count == 4, "the probe, which failed"

    ask(gateway, user, "smart")
    assert first.received_count == 4, "open again, for another cooldown"


def test_when_every_deployment_is_open_they_are_tried_anyway(gateway, user, clock, failing_first):
    first, second = failing_first
    second.fault = "[dev:status=503]"
    for _ in range(3):
        assert ask(gateway, user, "smart").status_code == 502

    first.fault = second.fault = ""
    assert ask(gateway, user, "smart").status_code == 200
    assert first.received_count == 4


def test_admin_is_told_when_a_breaker_opens_and_when_it_closes(gateway, user, clock, failing_first):
    first, _second = failing_first
    for _ in range(3):
        ask(gateway, user, "smart")
    resting = Deployment.objects.get(upstream_model="model-one")
    assert (resting.health, resting.last_error) == (Deployment.Health.RESTING, "upstream_http_503")

    clock[0] += 31
    first.fault = ""
    ask(gateway, user, "smart")

    healthy = Deployment.objects.get(upstream_model="model-one")
    assert healthy.health == Deployment.Health.OK
    assert healthy.health_changed > resting.health_changed
    assert healthy.last_error == "upstream_http_503", "the last error stays, for the administrator"
