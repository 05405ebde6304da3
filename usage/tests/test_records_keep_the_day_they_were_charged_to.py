"""A request reserved before midnight and ended after it is charged to the old day, and its usage record
says so: `/api/usage/?since=&until=` and the dashboard count it on that day, as the quota did."""

from __future__ import annotations

import datetime as dt

import requests
import time_machine
from django.utils import timezone

from accounts.tokens import issue_access_token
from relay.models import UsageRecord
from usage import dashboard


def test_a_request_in_flight_at_midnight_is_reported_on_the_day_it_was_charged_to(gateway, user):
    old_day = dt.date(2026, 7, 1)
    just_before_midnight = timezone.make_aware(dt.datetime.combine(old_day, dt.time(23, 59, 58)))

    with time_machine.travel(just_before_midnight, tick=True):
        token = issue_access_token(user)  # a token issued at the travelled time
        answered = requests.post(
            f"{gateway.url}/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi [dev:delay=3]"}]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=20,
        )
        assert answered.status_code == 200
        record = UsageRecord.objects.get(user=user)
        assert timezone.localdate(record.created) == old_day + dt.timedelta(days=1)  # it ended after midnight
        assert record.day == old_day

        def listed(day: dt.date) -> int:
            query = {"since": day.isoformat(), "until": day.isoformat()}
            response = requests.get(
                f"{gateway.url}/api/usage/", params=query, headers={"Authorization": f"Bearer {token}"}, timeout=20
            )
            return response.json()["count"]

        assert listed(old_day) == 1
        assert listed(old_day + dt.timedelta(days=1)) == 0

        days = dashboard.usage_per_day(period=dashboard.Period(first=old_day, last=old_day + dt.timedelta(days=1)))
        assert [(day.day, day.requests) for day in days] == [(old_day, 1), (old_day + dt.timedelta(days=1), 0)]
