"""What the user pages of admin show of the quota: the plan, the limits in force, today's use and the month."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from quota.models import Plan, Quota
from quota.services import reserve_request, settle_request
from relay.tests.records import record


def test_the_user_page_shows_the_plan_the_limits_in_force_and_todays_counts(admin_client, make_user, settings):
    settings.CHATGATEWAY_COMPLETION_RESERVE = 300
    plan = Plan.objects.create(name="student", daily_request_limit=30, daily_token_limit=50_000)
    ada = make_user("ada")
    Quota.objects.filter(user=ada).update(plan=plan)
    settle_request(reservation=reserve_request(user_id=ada.pk), tokens=1234)
    reserve_request(user_id=ada.pk)  # still in flight

    content = admin_client.get(f"/admin/accounts/user/{ada.pk}/change/").content.decode()

    assert "student (30 requests, 50,000 tokens a day)" in content
    assert "2 of 30" in content
    assert "1,234 of 50,000" in content
    assert '<div class="readonly">300</div>' in content
    assert "Empty: the plan's; without a plan, the default (10)" in content


def test_it_says_unlimited_where_no_token_limit_applies(admin_client, make_user):
    ada = make_user("ada")

    content = admin_client.get(f"/admin/accounts/user/{ada.pk}/change/").content.decode()

    assert "0 of unlimited" in content


def test_the_user_page_shows_the_last_30_days(admin_client, make_user):
    ada, bob = make_user("ada"), make_user("bob")
    now = timezone.now()
    record(ada, at=now - dt.timedelta(days=3), total_tokens=1500)
    record(ada, at=now - dt.timedelta(days=3), status_code=502, total_tokens=0)
    record(ada, at=now - dt.timedelta(days=40))  # too old
    record(bob, at=now)  # someone else's

    content = admin_client.get(f"/admin/accounts/user/{ada.pk}/change/").content.decode()

    day = timezone.localdate(now - dt.timedelta(days=3)).isoformat()
    assert f'<tr><td>{day}</td><td class="num">2</td>' in content
    assert '<td class="num">1</td><td class="num">1,500</td></tr>' in content
    assert content.count("<tr><td>20") == 1  # one day with requests
    assert "2 requests, 1 errors, 1,500 tokens in 30 days" in content
    assert 'aria-label="Requests per day"' in content


def test_the_user_page_says_when_there_was_no_use(admin_client, make_user):
    ada = make_user("ada")

    content = admin_client.get(f"/admin/accounts/user/{ada.pk}/change/").content.decode()

    assert "No requests in the last 30 days." in content


def test_the_user_list_shows_plan_limit_in_force_and_todays_use(admin_client, make_user):
    plan = Plan.objects.create(name="student", daily_request_limit=30, daily_token_limit=50_000)
    ada = make_user("ada")
    Quota.objects.filter(user=ada).update(plan=plan)
    settle_request(reservation=reserve_request(user_id=ada.pk), tokens=777)
    make_user("bob", daily_limit=12)

    response = admin_client.get("/admin/accounts/user/", {"o": "5"})  # sorted by the limit in force

    rows = [(user.username, user.request_limit_in_force) for user in response.context["cl"].result_list]
    assert rows == [("admin", 10), ("bob", 12), ("ada", 30)]
    content = response.content.decode()
    assert '<td class="field-plan">student</td>' in content
    assert '<td class="field-request_limit">30</td>' in content
    assert '<td class="field-used_today">1</td>' in content
    assert '<td class="field-tokens_today">777</td>' in content


def test_the_user_list_filters_by_plan(admin_client, make_user):
    plan = Plan.objects.create(name="student", daily_request_limit=30)
    Quota.objects.filter(user=make_user("ada")).update(plan=plan)
    make_user("bob")

    response = admin_client.get("/admin/accounts/user/", {"quota__plan__id__exact": plan.pk})

    assert [user.username for user in response.context["cl"].result_list] == ["ada"]
