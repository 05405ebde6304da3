"""GET /api/usage/: the caller's own usage records, newest first, filtered and a page at a time."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import User
from apikeys.services import create_api_key
from relay.models import UsageRecord
from usage.selectors import usage_records_for

NOON = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
FIELDS = {
    "id",
    "created",
    "day",
    "endpoint",
    "model",
    "stream",
    "status_code",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "estimated",
    "latency_ms",
    "ttfb_ms",
    "error",
}


def record(user: User, *, at: dt.datetime = NOON, **fields) -> UsageRecord:
    """A usage record of `user`, created at `at`."""
    defaults = {"endpoint": UsageRecord.Endpoint.CHAT, "model": "gpt-4o-mini", "status_code": 200, "latency_ms": 120}
    with time_machine.travel(at, tick=False):
        return UsageRecord.objects.create(user=user, **(defaults | fields))


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_it_lists_only_the_callers_records_newest_first(user, make_user, api):
    older = record(user, at=NOON - dt.timedelta(hours=2))
    newest = record(user, at=NOON)
    middle = record(user, at=NOON - dt.timedelta(hours=1))
    record(make_user("bob"), at=NOON)

    response = api.get("/api/usage/")

    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert ids(response) == [newest.pk, middle.pk, older.pk]


def test_it_shows_each_records_numbers_and_never_its_texts(user, api):
    saved = record(
        user,
        endpoint=UsageRecord.Endpoint.V1,
        model="gpt-4o",
        stream=True,
        prompt_tokens=9,
        completion_tokens=12,
        total_tokens=21,
        estimated=True,
        latency_ms=840,
        ttfb_ms=95,
        cost=4_500,
        currency="USD",
        upstream_request_id="req-upstream-secret",
        prompt_text="my private question",
        completion_text="the model's private answer",
    )

    response = api.get("/api/usage/")

    assert response.json()["results"] == [
        {
            "id": saved.pk,
            "created": "2026-07-01T12:00:00Z",
            "day": "2026-07-01",
            "endpoint": "v1",
            "model": "gpt-4o",
            "team": "",
            "stream": True,
            "status_code": 200,
            "prompt_tokens": 9,
            "completion_tokens": 12,
            "total_tokens": 21,
            "estimated": True,
            "cost": "0.000004500",
            "currency": "USD",
            "latency_ms": 840,
            "ttfb_ms": 95,
            "error": "",
        }
    ]
    content = response.content.decode()
    for secret in ("req-upstream-secret", "my private question", "the model's private answer"):
        assert secret not in content


def test_it_shows_a_failed_attempt_with_its_reason(user, api):
    record(user, status_code=504, error="upstream_timeout", ttfb_ms=None)

    (row,) = api.get("/api/usage/").json()["results"]

    assert (row["status_code"], row["error"], row["ttfb_ms"]) == (504, "upstream_timeout", None)


def test_it_pages_fifty_records_at_a_time(user, api):
    for minute in range(51):
        record(user, at=NOON + dt.timedelta(minutes=minute))

    first = api.get("/api/usage/").json()
    second = api.get(first["next"]).json()

    assert set(first) == {"count", "next", "previous", "results"}
    assert (first["count"], len(first["results"]), first["previous"]) == (51, 50, None)
    assert first["next"].endswith("/api/usage/?page=2")
    assert (len(second["results"]), second["next"]) == (1, None)
    assert second["previous"] is not None
    assert second["results"][0]["created"] == "2026-07-01T12:00:00Z"  # the oldest comes last


def test_it_takes_a_page_size_and_keeps_it_and_the_filters_in_its_links(user, api):
    for minute in range(5):
        record(user, at=NOON + dt.timedelta(minutes=minute))

    response = api.get("/api/usage/", {"page_size": 2, "model": "gpt-4o-mini"})

    assert len(response.json()["results"]) == 2
    assert "page_size=2" in response.json()["next"]
    assert "model=gpt-4o-mini" in response.json()["next"]
    assert len(api.get("/api/usage/", {"page_size": 500}).json()["results"]) == 5


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "two"}, "page"),
        ({"page": "last"}, "page"),
        ({"page": "3"}, "page"),  # past the last page
        ({"page": "9" * 5000}, "page"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "501"}, "page_size"),
        ({"page_size": "2.5"}, "page_size"),
        ({"page_size": "many"}, "page_size"),
    ],
)
def test_it_refuses_a_page_that_makes_no_sense_with_400(user, api, query, field):
    for minute in range(3):
        record(user, at=NOON + dt.timedelta(minutes=minute))

    response = api.get("/api/usage/", {"page_size": 2, **query})

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert response.json()[field][0].startswith("Must be a whole number from 1 to ")


def test_it_tells_how_many_pages_there_are_when_asked_for_one_past_the_last(user, api):
    record(user)

    response = api.get("/api/usage/", {"page": 2})

    assert response.json() == {"page": ["Must be a whole number from 1 to 1."]}


def test_it_answers_page_one_of_no_records(api):
    response = api.get("/api/usage/", {"page": 1})

    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_it_filters_by_whole_days_in_the_configured_time_zone(user, api, settings):
    settings.TIME_ZONE = "Asia/Shanghai"  # UTC+8: 1 July there runs from 30 June 16:00 to 1 July 16:00 UTC
    june_30_last_second = record(user, at=dt.datetime(2026, 6, 30, 15, 59, 59, tzinfo=dt.UTC))
    july_1_first_second = record(user, at=dt.datetime(2026, 6, 30, 16, 0, tzinfo=dt.UTC))
    july_1_last_second = record(user, at=dt.datetime(2026, 7, 1, 15, 59, 59, tzinfo=dt.UTC))
    july_2_first_second = record(user, at=dt.datetime(2026, 7, 1, 16, 0, tzinfo=dt.UTC))

    only_july_1 = api.get("/api/usage/", {"since": "2026-07-01", "until": "2026-07-01"})
    from_july_1 = api.get("/api/usage/", {"since": "2026-07-01"})
    to_july_1 = api.get("/api/usage/", {"until": "2026-07-01"})

    assert ids(only_july_1) == [july_1_last_second.pk, july_1_first_second.pk]
    assert only_july_1.json()["results"][1]["created"] == "2026-07-01T00:00:00+08:00"
    assert ids(from_july_1) == [july_2_first_second.pk, july_1_last_second.pk, july_1_first_second.pk]
    assert ids(to_july_1) == [july_1_last_second.pk, july_1_first_second.pk, june_30_last_second.pk]


def test_it_takes_the_first_and_last_days_of_the_calendar(user, api, settings):
    settings.TIME_ZONE = "Asia/Shanghai"  # the midnight of 1 January of year 1 there is before year 1 in UTC
    saved = record(user)

    response = api.get("/api/usage/", {"since": "0001-01-01", "until": "9999-12-31"})

    assert response.status_code == 200
    assert ids(response) == [saved.pk]


def test_it_filters_by_model(user, api):
    mini = record(user, model="gpt-4o-mini")
    record(user, model="gpt-4o")

    response = api.get("/api/usage/", {"model": "gpt-4o-mini"})

    assert ids(response) == [mini.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "2026-13-01"}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"until": "01/07/2026"}, "until"),
        ({"since": "2026-07-02", "until": "2026-07-01"}, "non_field_errors"),
    ],
)
def test_it_refuses_a_filter_that_makes_no_sense_with_400(api, query, field):
    response = api.get("/api/usage/", query)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_it_takes_an_empty_filter_as_no_filter(user, api):
    saved = record(user)

    response = api.get("/api/usage/", {"since": "", "until": "", "model": ""})

    assert ids(response) == [saved.pk]


def test_it_says_which_date_format_it_takes(api):
    response = api.get("/api/usage/", {"since": "1 July"})

    assert response.json() == {"since": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}


def test_it_answers_an_api_key_too(user):
    saved = record(user)
    _, raw_key = create_api_key(user=user, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    response = client.get("/api/usage/")

    assert ids(response) == [saved.pk]


def test_it_refuses_an_anonymous_caller_with_401(db):
    response = APIClient().get("/api/usage/")

    assert response.status_code == 401
    assert "WWW-Authenticate" in response


def test_a_page_costs_three_queries_however_many_records_it_shows(user, api, django_assert_num_queries):
    for minute in range(60):
        record(user, at=NOON + dt.timedelta(minutes=minute), model="gpt-4o" if minute % 2 else "gpt-4o-mini")
    api.get("/api/usage/")  # the quota middleware's once-a-day reset runs on a client's first request

    with django_assert_num_queries(3):  # the token's user; the count; the page
        response = api.get("/api/usage/", {"since": "2026-07-01", "until": "2026-07-01", "model": "gpt-4o"})

    assert (response.json()["count"], len(response.json()["results"])) == (30, 30)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plan")
def test_its_query_searches_the_users_newest_first_index(user):
    day = dt.date(2026, 7, 1)
    records = usage_records_for(user_id=user.pk, since=day, until=day, model="gpt-4o")

    plan = records.explain()

    assert "USING INDEX usage_user_newest (user_id=? AND created>? AND created<?)" in plan
    # The index gives the order; at most records created in the same microsecond are sorted by id.
    assert "TEMP B-TREE FOR ORDER BY" not in plan
