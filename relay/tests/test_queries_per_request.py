"""The database work of a relayed request, on every relay endpoint, is a small fixed number of statements:
the access stamp, once for the authentication and once before the reservation (the caller's row, the team
it draws on and the limits in force come from the process's cache while it is unchanged: core/access.py),
the quota reservation (a locked read, its write and its lease), the settlement (the lease ended, the row
written) and the record. With limits of keys, users or teams in force, their counters add a locked read
and one write of them all at the reservation, and one at the settlement."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apikeys.services import create_api_key
from quota.models import Counter, Limit
from teams.models import Membership, Team


@pytest.fixture(autouse=True)
def reset_already_done_today(api):
    api.get("/api/quota/")  # the first request of the day runs the daily reset; later ones don't


EIGHT = ["SELECT", "SELECT", "SELECT", "UPDATE", "INSERT", "UPDATE", "DELETE", "INSERT"]


def _statements(queries) -> list[str]:
    # Inside the test's transaction, atomic() blocks become savepoints: not round trips in production.
    return [query["sql"].split()[0] for query in queries.captured_queries if "SAVEPOINT" not in query["sql"]]


def test_the_original_api_takes_eight_statements(api):
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api", {"q": "hi"}).status_code == 200

    # the access stamp (authentication) · the access stamp (reservation) · the quota row, locked · its update ·
    # the lease · the settlement · the lease ended · the usage record
    assert _statements(queries) == EIGHT


def test_the_chat_endpoint_adds_only_the_quota_it_shows(api):
    with CaptureQueriesContext(connection) as queries:
        assert api.post("/api/chat/", {"prompt": "hi"}, format="json").status_code == 200

    # the access stamp and the quota it shows (the team and the limits from the cache)
    assert _statements(queries) == [*EIGHT, "SELECT", "SELECT"]


def test_an_api_key_costs_no_more_than_a_token(user, client):
    _, raw = create_api_key(user=user, name="bench")
    client.post("/api/chat/", {"prompt": "warm"}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")

    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/api/chat/", {"prompt": "hi"}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
        )

    assert response.status_code == 200
    assert len(_statements(queries)) == 10, "its last_used is written at most once a minute"


def test_the_openai_endpoint_takes_eight_statements(api):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    with CaptureQueriesContext(connection) as queries:
        assert api.post("/v1/chat/completions", body, format="json").status_code == 200

    # the access stamp (authentication) · the access stamp (reservation) · the quota row, locked · its update ·
    # the lease · the settlement · the lease ended · the usage record
    assert _statements(queries) == EIGHT


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/completions", {"model": "gpt-4o-mini", "prompt": "hi"}),
        ("/v1/embeddings", {"model": "gpt-4o-mini", "input": ["hi", "there"]}),
    ],
)
def test_the_other_openai_endpoints_take_the_same_nine(api, path, body):
    with CaptureQueriesContext(connection) as queries:
        assert api.post(path, body, format="json").status_code == 200

    assert _statements(queries) == EIGHT


@pytest.mark.parametrize("store", [True, False])
def test_a_response_adds_only_its_owner_when_it_is_kept(api, store):
    body = {"model": "gpt-4o-mini", "input": "hi", "store": store}
    with CaptureQueriesContext(connection) as queries:
        assert api.post("/v1/responses", body, format="json").status_code == 200

    # the eight, and the response's owner (one INSERT) when the response is kept
    assert _statements(queries) == ([*EIGHT, "INSERT"] if store else EIGHT)


def test_limits_of_every_level_add_three_statements_however_many_counters(api, user):
    """A locked read of the counters, one write of them all at the reservation and one at the settlement:
    not one a counter (three counters here, four in bench/cpu_cost.py --limits)."""
    team = Team.objects.create(name="course")
    Membership.objects.create(team=team, user=user, is_default=True)
    Limit.objects.create(user=user, metric="requests", period="month", amount=1000)
    Limit.objects.create(team=team, metric="requests", period="day", amount=1000)
    Limit.objects.create(team=team, metric="tokens", period="week", amount=10**6)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    api.post("/v1/chat/completions", body, format="json")  # makes the counters, once

    with CaptureQueriesContext(connection) as queries:
        assert api.post("/v1/chat/completions", body, format="json").status_code == 200

    # the access stamp, twice · the quota row, locked · the counters, locked in id order · the row's update ·
    # the counters' · the lease · the settlement: the row, the counters (locking them in id order first) · the
    # lease ended · the usage record
    assert _statements(queries) == [
        "SELECT", "SELECT", "SELECT", "SELECT", "UPDATE", "WITH", "INSERT", "UPDATE", "WITH", "DELETE", "INSERT",
    ]  # fmt: skip
    assert Counter.objects.filter(requests=2, tokens__gt=0, tokens_reserved=0).count() == 3  # each settled
