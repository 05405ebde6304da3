import datetime as dt
import threading
import time
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from django.test import Client

from accounts.tokens import issue_access_token
from quota.models import Quota
from quota.services import quota_status

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
        status = quota_status(user_id=user.pk)  # no request, so no middleware, has run since midnight

    user.quota.refresh_from_db()
    assert user.quota.day == dt.date(2026, 6, 1)
    assert (status.used_today, status.remaining) == (0, 3)
    assert status.resets_at.isoformat() == "2026-06-03T00:00:00+08:00"


@pytest.mark.django_db(transaction=True)
def test_a_request_in_flight_at_midnight_that_fails_costs_the_new_day_nothing(live_server, make_user):
    """Reserved at 23:59:59.7, failing upstream at 00:00:00.3, while another request at 00:00:00.1 succeeds."""
    user = make_user(daily_limit=2)
    statuses = {}
    token = ""

    def ask_live(name: str, question: str) -> None:
        response = requests.get(
            f"{live_server.url}/api", params={"q": question}, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        statuses[name] = response.status_code

    with time_machine.travel(BEFORE_MIDNIGHT + dt.timedelta(seconds=29.7), tick=True):
        token = str(issue_access_token(user))
        in_flight = threading.Thread(target=ask_live, args=("in_flight", "[dev:delay=0.6] [dev:status=500]"))
        in_flight.start()
        time.sleep(0.4)
        ask_live("after_midnight", "hello")
        in_flight.join()
        status = quota_status(user_id=user.pk)

    assert statuses == {"in_flight": 502, "after_midnight": 200}
    assert status.resets_at.isoformat() == "2026-06-03T00:00:00+08:00"
    assert status.used_today == 1
