"""The usage dashboard in admin: days, totals, top users and models, errors, in a few queries."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from apikeys.services import create_api_key
from relay.tests.records import record
from usage import dashboard

NOW = dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def days_ago(days: int, hour: int = 12) -> dt.datetime:
    return (NOW - dt.timedelta(days=days)).replace(hour=hour)


def test_it_counts_requests_tokens_and_errors_per_day(admin_client, make_user):
    ada = make_user("ada")
    record(ada, at=days_ago(0), total_tokens=100, prompt_tokens=60, completion_tokens=40)
    record(ada, at=days_ago(0), status_code=502, total_tokens=0, prompt_tokens=0, completion_tokens=0)
    record(ada, at=days_ago(2), total_tokens=7, prompt_tokens=4, completion_tokens=3)
    record(ada, at=days_ago(29))
    record(ada, at=days_ago(30))  # before the period

    response = admin_client.get("/admin/relay/usagerecord/dashboard/")

    assert response.status_code == 200
    days = {day.day: day for day in response.context["board"].days}
    assert len(days) == 30
    today = days[dt.date(2026, 3, 31)]
    assert (today.requests, today.errors, today.total_tokens, today.prompt_tokens) == (2, 1, 100, 60)
    assert today.error_rate == 0.5
    assert days[dt.date(2026, 3, 29)].total_tokens == 7
    assert days[dt.date(2026, 3, 30)].requests == 0
    assert days[dt.date(2026, 3, 2)].requests == 1
    assert dt.date(2026, 3, 1) not in days
    assert response.context["board"].totals.requests == 4


def test_its_days_are_days_in_the_configured_time_zone(admin_client, user, settings):
    settings.TIME_ZONE = "Asia/Shanghai"  # UTC+8: 20:00 UTC on the 29th is the 30th there
    record(user, at=dt.datetime(2026, 3, 29, 20, tzinfo=dt.UTC))

    days = {day.day: day.requests for day in dashboard.dashboard(days=7).days}

    assert days[dt.date(2026, 3, 30)] == 1
    assert days[dt.date(2026, 3, 29)] == 0


def test_it_ranks_users_and_models_and_errors(admin_client, make_user):
    ada, bob = make_user("ada"), make_user("bob")
    for _ in range(3):
        record(ada, model="gpt-4o")
    record(bob, model="gpt-4o-mini", total_tokens=1000)
    record(bob, model="gpt-4o-mini", status_code=504, error="upstream_timeout")

    board = admin_client.get("/admin/relay/usagerecord/dashboard/").context["board"]

    assert [(row.label, row.requests) for row in board.top_users] == [("ada", 3), ("bob", 2)]
    assert board.top_users[0].share == pytest.approx(0.6)
    assert [(row.label, row.tokens) for row in board.top_models] == [("gpt-4o", 45), ("gpt-4o-mini", 1015)]
    assert [(row.label, row.requests, row.share) for row in board.top_errors] == [("504 upstream_timeout", 1, 1.0)]
    assert board.totals.error_rate == pytest.approx(0.2)
    assert board.totals.users == 2


def test_it_draws_the_charts_and_tables(admin_client, make_user):
    record(make_user("<b>ada</b>"), at=days_ago(1))

    content = admin_client.get("/admin/relay/usagerecord/dashboard/").content.decode()

    assert content.count('<svg class="chart"') == 4  # requests, tokens, spend, error rate
    assert "Mar 30 — Successful: 1, Errors: 0" in content  # a tooltip of the requests chart
    assert "&lt;b&gt;ada&lt;/b&gt;" in content
    assert "<b>ada</b>" not in content


def test_it_shows_7_or_90_days_on_request(admin_client, user):
    record(user, at=days_ago(60))

    week = admin_client.get("/admin/relay/usagerecord/dashboard/", {"days": "7"}).context["board"]
    quarter = admin_client.get("/admin/relay/usagerecord/dashboard/", {"days": "90"}).context["board"]
    odd = admin_client.get("/admin/relay/usagerecord/dashboard/", {"days": "1000"}).context["board"]

    assert (len(week.days), week.totals.requests) == (7, 0)
    assert (len(quarter.days), quarter.totals.requests) == (90, 1)
    assert len(odd.days) == 30


def test_it_renders_with_no_records_at_all(admin_client):
    response = admin_client.get("/admin/relay/usagerecord/dashboard/")

    assert response.status_code == 200
    assert "Nothing in this period" in response.content.decode()


def test_it_takes_the_same_few_queries_whatever_the_data(admin_client, make_user, django_assert_max_num_queries):
    for n in range(12):
        user = make_user(f"user{n}")
        for days in range(0, 30, 3):
            record(user, at=days_ago(days), model=f"model-{n % 4}", status_code=200 if n % 5 else 500)

    admin_client.get("/admin/")  # the first request of the day also runs the daily quota reset
    admin_client.get("/admin/relay/usagerecord/dashboard/")  # rolls the records up (usage/rollup.py)
    record(make_user("late"))  # one more after it: read from the records
    # The session and its user; the roll-up's state, the newest record and the dirty days; the roll-up by
    # grouping, by day; the records after it; the names of the top users and keys.
    with django_assert_max_num_queries(10):
        response = admin_client.get("/admin/relay/usagerecord/dashboard/")

    assert response.context["board"].totals.requests == 121


def test_it_shows_what_each_providers_model_answered_and_how_fast(admin_client, make_user):
    ada = make_user("ada")
    record(ada, provider="openai", upstream_model="gpt-4o", latency_ms=300, ttfb_ms=100)
    record(ada, provider="openai", upstream_model="gpt-4o", latency_ms=500, ttfb_ms=200, attempts=2)
    record(ada, provider="local", upstream_model="qwen", latency_ms=50)
    record(ada)  # answered by the implicit provider of a gateway without providers: not listed

    response = admin_client.get("/admin/relay/usagerecord/dashboard/")

    served = response.context["board"].served
    assert [(row.provider, row.upstream_model, row.requests, row.after_fallback) for row in served] == [
        ("openai", "gpt-4o", 2, 1),
        ("local", "qwen", 1, 0),
    ]
    assert (served[0].latency_ms, served[0].ttfb_ms) == (400, 150)
    page = response.content.decode()
    assert "Answered by provider" in page
    assert "?provider=openai" in page


def test_the_admin_home_page_links_to_it(admin_client):
    response = admin_client.get("/admin/")

    assert 'href="/admin/relay/usagerecord/dashboard/"' in response.content.decode()


def test_it_shows_spend_by_day_user_team_key_and_model_in_the_currency(admin_client, make_user, settings):
    settings.CHATGATEWAY_CURRENCY = "USD"
    ada, bob = make_user("ada"), make_user("bob")
    script, _ = create_api_key(user=bob, name="nightly")
    record(ada, at=days_ago(0), model="gpt-4o", cost=2_500_000_000, currency="USD", team="research")
    record(bob, at=days_ago(0), model="gpt-4o-mini", cost=150_000, currency="USD", api_key=script, team="course-101")
    record(bob, at=days_ago(1), model="gpt-4o-mini", cost=300_000, currency="USD", api_key=script, team="course-101")
    record(bob, at=days_ago(1), model="gpt-4o-mini", cost=999_999, currency="CNY")  # before the currency changed

    response = admin_client.get("/admin/relay/usagerecord/dashboard/")

    board = response.context["board"]
    assert board.totals.cost == 2_500_450_000
    days = {day.day: day.cost for day in board.days}
    assert (days[dt.date(2026, 3, 31)], days[dt.date(2026, 3, 30)]) == (2_500_150_000, 300_000)
    assert {row.label: row.cost for row in board.top_users} == {"ada": 2_500_000_000, "bob": 450_000}
    assert [(row.label, row.cost) for row in board.top_keys] == [(script.prefix, 450_000)]
    assert [(row.label, row.cost) for row in board.top_teams] == [("research", 2_500_000_000), ("course-101", 450_000)]
    assert {row.label: row.cost for row in board.top_models} == {"gpt-4o": 2_500_000_000, "gpt-4o-mini": 450_000}
    page = response.content.decode()
    assert "$2.50" in page  # the period's spend
    assert "$0.00045" in page  # bob's, and his key's
    assert "Spend per day (USD)" in page
    assert "Top teams by spend" in page
