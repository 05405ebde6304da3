import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from accounts.tokens import issue_access_token
from quota.models import Quota

SHANGHAI = ZoneInfo("Asia/Shanghai")
BEFORE_MIDNIGHT = dt.datetime(2026, 6, 1, 23, 59, 30, tzinfo=SHANGHAI)
AFTER_MIDNIGHT = dt.datetime(2026, 6, 2, 0, 0, 30, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def shanghai_time(settings):
    settings.TIME_ZONE = "Asia/Shanghai"


def ask(user):
    return Client().get("/api", {"q": "hi"}, headers={"Authorization": f"Bearer {issue_access_token(user)}"})


def test_the_limit_comes_back_at_midnight_in_the_configured_time_zone(make_user):
    user = make_user(daily_limit=1)
    with time_machine.travel(BEFORE_MIDNIGHT, tick=False):
        assert ask(user).status_code == 200
        assert ask(user).status_code == 429
    with time_machine.travel(AFTER_MIDNIGHT, tick=False):
        assert ask(user).status_code == 200
        assert ask(user).status_code == 429


def test_it_is_not_midnight_yet_when_utc_passes_midnight(make_user):
    user = make_user(daily_limit=1)
    with time_machine.travel(dt.datetime(2026, 6, 1, 23, 30, tzinfo=dt.UTC), tick=False):  # 07:30 in Shanghai
        assert ask(user).status_code == 200
    with time_machine.travel(dt.datetime(2026, 6, 2, 0, 30, tzinfo=dt.UTC), tick=False):  # 08:30, same day
        assert ask(user).status_code == 429


def test_the_middleware_resets_every_stale_count_on_the_first_request_of_the_day(make_user):
    users = [make_user(name, daily_limit=5) for name in ("ada", "bob", "cy")]
    with time_machine.travel(BEFORE_MIDNIGHT, tick=False):
        for user in users[:2]:
            ask(user)
    with time_machine.travel(AFTER_MIDNIGHT, tick=False):
        Client().get("/healthz")  # anyone's request, authenticated or not

        rows = list(Quota.objects.order_by("user__username").values_list("used", "day"))

    assert rows == [(0, dt.date(2026, 6, 2)), (0, dt.date(2026, 6, 2)), (0, None)]


def test_the_quota_shows_nothing_used_after_midnight_even_before_any_reset(make_user):
    user = make_user(daily_limit=3)
    with time_machine.travel(BEFORE_MIDNIGHT, tick=False):
        ask(user)
    with time_machine.travel(AFTER_MIDNIGHT, tick=False):
        user.quota.refresh_from_db()
        stored_day = user.quota.day
        body = _quota(user)

    assert stored_day == dt.date(2026, 6, 1)
    assert (body["used_today"], body["remaining"]) == (0, 3)
    assert body["resets_at"] == "2026-06-03T00:00:00+08:00"


def test_a_request_failing_across_midnight_is_refunded_to_the_old_day_only(make_user, dev_upstream, settings):
    """A request reserved at 23:59:59 whose upstream call fails after midnight costs the new day nothing."""
    from quota.services import refund_request, reserve_request

    user = make_user(daily_limit=2)
    with time_machine.travel(BEFORE_MIDNIGHT, tick=False):
        in_flight = reserve_request(user_id=user.pk)
    with time_machine.travel(AFTER_MIDNIGHT, tick=False):
        assert ask(user).status_code == 200
        refund_request(reservation=in_flight)
        assert _quota(user)["used_today"] == 1


def _quota(user) -> dict:
    return Client().get("/api/quota/", headers={"Authorization": f"Bearer {issue_access_token(user)}"}).json()
