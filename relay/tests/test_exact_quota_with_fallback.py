"""Exact quotas with fallback in play: one request left, twenty at once, the first deployment failing
every call: exactly one answer (from the second), and the failed calls charge nothing."""

from __future__ import annotations

import threading
from collections import Counter

from conftest import used_today
from relay.models import UsageRecord
from relay.tests.routed import ask

CLIENTS = 20


def test_one_request_left_twenty_at_once_and_a_failing_deployment_give_exactly_one_answer(
    gateway, make_user, routes, upstreams
):
    user = make_user(daily_limit=2)
    first, second = upstreams(fault="[dev:status=503]"), upstreams()
    routes.model(
        "smart", (routes.provider("first", first), "model-one", 1), (routes.provider("second", second), "model-two", 2)
    )
    routes.load()
    assert ask(gateway, user, "smart").status_code == 200  # one of two used, through the fallback

    barrier = threading.Barrier(CLIENTS)
    statuses: list[int] = []

    def one() -> None:
        barrier.wait()
        statuses.append(ask(gateway, user, "smart", "race").status_code)

    threads = [threading.Thread(target=one) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Counter(statuses) == Counter({200: 1, 429: CLIENTS - 1})
    assert used_today(user) == 2
    answered = UsageRecord.objects.filter(user=user, error="")
    assert answered.count() == 2
    assert {record.provider for record in answered} == {"second"}
    assert second.received_count == 2
