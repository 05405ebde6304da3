"""The usage records list in admin: read-only, filtered, with the totals of what it lists above it."""

from __future__ import annotations

import datetime as dt

from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from relay.models import UsageRecord
from relay.tests.records import record


def test_it_lists_the_records_read_only(admin_client, make_user):
    record(make_user("ada"), model="gpt-4o")

    response = admin_client.get("/admin/relay/usagerecord/")

    assert response.status_code == 200
    assert "gpt-4o" in response.content.decode()
    assert admin_client.get("/admin/relay/usagerecord/add/").status_code == 403
    page = admin_client.get(f"/admin/relay/usagerecord/{UsageRecord.objects.get().pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content


def test_it_shows_the_totals_of_the_filtered_records(admin_client, make_user):
    ada, bob = make_user("ada"), make_user("bob")
    record(ada, prompt_tokens=100, completion_tokens=20, total_tokens=120)
    record(ada, status_code=502, error="upstream_error", prompt_tokens=0, completion_tokens=0, total_tokens=0)
    record(ada, model="gpt-4o", prompt_tokens=1, completion_tokens=1, total_tokens=2)
    record(bob, prompt_tokens=1000, completion_tokens=1000, total_tokens=2000)

    response = admin_client.get("/admin/relay/usagerecord/", {"user__id__exact": ada.pk, "model__exact": "gpt-4o-mini"})

    totals = response.context["usage_totals"]
    assert (totals.requests, totals.successful, totals.errors) == (2, 1, 1)
    assert (totals.prompt_tokens, totals.completion_tokens, totals.total_tokens) == (100, 20, 120)
    assert 'id="usage-totals"' in response.content.decode()


def test_the_totals_follow_the_search_too(admin_client, make_user):
    record(make_user("ada"))
    record(make_user("bob"))
    record(make_user("bobby"))

    response = admin_client.get("/admin/relay/usagerecord/", {"q": "bob"})

    assert response.context["usage_totals"].requests == 2
    assert response.context["usage_totals"].users == 2


def test_it_filters_by_status_stream_endpoint_and_estimate(admin_client, make_user):
    ada = make_user("ada")
    record(ada, status_code=429, stream=True, endpoint="chat", estimated=True)
    record(ada)

    for name, value in [("status_code__exact", 429), ("stream__exact", 1), ("endpoint__exact", "chat"),
                        ("estimated__exact", 1)]:  # fmt: skip
        response = admin_client.get("/admin/relay/usagerecord/", {name: value})

        assert response.status_code == 200, name
        assert response.context["cl"].result_count == 1, name


def test_it_links_the_export_with_the_filters_and_the_dashboard(admin_client, make_user):
    ada = make_user("ada")
    record(ada)

    response = admin_client.get("/admin/relay/usagerecord/", {"user__id__exact": ada.pk})

    content = response.content.decode()
    assert f'href="/admin/relay/usagerecord/export/?user__id__exact={ada.pk}"' in content
    assert 'href="/admin/relay/usagerecord/dashboard/"' in content


def test_it_warns_of_relay_ends_the_outbox_set_aside(admin_client, settings):
    assert "set aside" not in admin_client.get("/admin/relay/usagerecord/").content.decode()
    rejected = settings.CHATGATEWAY_OUTBOX_DIR / "rejected"
    rejected.mkdir(parents=True)
    (rejected / "1-a.json").write_text('{"reason": "user 7 no longer exists"}')
    (rejected / "2-b.json").write_text('{"reason": "user 7 no longer exists"}')

    response = admin_client.get("/admin/relay/usagerecord/")

    (message,) = [str(m) for m in response.context["messages"]]
    assert message.startswith("2 relay ends the database refused for good")
    assert str(rejected) in message


def test_it_shows_which_provider_answered_after_how_many_attempts(admin_client, make_user):
    failed = [{"provider": "openai", "model": "gpt-4o", "reason": "upstream_http_503", "status": 503}]
    record(make_user("ada"), provider="local", upstream_model="qwen2.5-7b-instruct", attempts=2, failed_attempts=failed)

    listed = admin_client.get("/admin/relay/usagerecord/", {"provider": "local"}).content.decode()
    detail = admin_client.get(f"/admin/relay/usagerecord/{UsageRecord.objects.get().pk}/change/").content.decode()

    assert "qwen2.5-7b-instruct" in listed
    assert "upstream_http_503" in detail


def test_it_counts_no_further_than_its_cap_and_never_the_whole_table_twice(admin_client, make_user, monkeypatch):
    monkeypatch.setattr("usage.admin.COUNT_CAP", 3)
    ada = make_user("ada")
    for _ in range(5):
        record(ada)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/relay/usagerecord/", {"user__id__exact": ada.pk})

    cl = response.context["cl"]
    counts = [query["sql"] for query in queries if query["sql"].startswith("SELECT COUNT(*)")]
    assert counts
    assert all("LIMIT 4" in sql for sql in counts)
    assert cl.paginator.estimated
    assert cl.full_result_count is None
    assert response.context["usage_totals"] is None  # more than the cap, filtered: not added up
    assert 'id="usage-estimated"' in response.content.decode()


def test_unfiltered_past_the_cap_its_totals_come_from_the_roll_up(admin_client, make_user, monkeypatch):
    monkeypatch.setattr("usage.admin.COUNT_CAP", 3)
    ada = make_user("ada")
    for _ in range(5):
        record(ada, cost=2, currency="USD")

    response = admin_client.get("/admin/relay/usagerecord/")

    totals = response.context["usage_totals"]
    assert (totals.requests, totals.total_tokens, totals.cost, totals.users) == (5, 75, 10, 1)


def test_its_filters_offer_the_values_recorded_without_reading_every_record(admin_client, make_user):
    record(make_user("ada"), model="gpt-4o", team="research", provider="openai", status_code=502)
    call_command("rollup_usage")
    record(make_user("bob"), model="o3-mini")  # after the roll-up: from the records

    response = admin_client.get("/admin/relay/usagerecord/")

    choices = {spec.title: [choice["display"] for choice in spec.choices(response.context["cl"])]
               for spec in response.context["cl"].filter_specs}  # fmt: skip
    assert {"gpt-4o", "o3-mini"} <= set(choices["model"])
    assert "research" in choices["team"]
    assert "openai" in choices["provider"]
    assert {"200", "502"} <= set(choices["status code"])
    assert {"ada", "bob"} <= set(choices["user"])


def test_its_date_hierarchy_offers_the_periods_between_the_first_and_last_record(admin_client, make_user):
    ada = make_user("ada")
    record(ada, at=dt.datetime(2024, 11, 3, 12, tzinfo=dt.UTC))
    record(ada, at=dt.datetime(2026, 2, 3, 12, tzinfo=dt.UTC))

    content = admin_client.get("/admin/relay/usagerecord/").content.decode()

    assert all(f"created__year={year}" in content for year in (2024, 2025, 2026))
