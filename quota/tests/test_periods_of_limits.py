"""Calendar periods of limits in TIME_ZONE: a request is charged to the period it started in, a new period
starts its counts afresh with no job run, a month ends when the calendar says, and a period never moves
backwards for a host whose clock is behind."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from quota.exceptions import QuotaExceeded
from quota.models import Counter, Limit
from quota.services import refund_request, reserve_request, settle_request

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def shanghai_time(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    settings.CHATGATEWAY_WEEK_STARTS_ON = 6  # Sunday


def _local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


# The last seconds of a period and the first of the next, in Shanghai: a day, a week starting on Sunday,
# a month.
ENDS = {
    "day": (_local(2026, 6, 1, 23, 59, 30), _local(2026, 6, 2, 0, 0, 30)),
    "week": (_local(2026, 5, 9, 23, 59, 30), _local(2026, 5, 10, 0, 0, 30)),  # Saturday to Sunday
    "month": (_local(2026, 5, 31, 23, 59, 30), _local(2026, 6, 1, 0, 0, 30)),
}


@pytest.mark.parametrize("period", ENDS)
def test_a_request_in_flight_at_the_end_of_a_period_is_charged_to_the_period_it_started_in(ada, team, period):
    Limit.objects.create(team=team, metric="tokens", period=period, amount=1000)
    Limit.objects.create(team=team, metric="requests", period=period, amount=1)
    before, after = ENDS[period]
    with time_machine.travel(before, tick=False) as traveller:
        in_flight = reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=800)
        with pytest.raises(QuotaExceeded):
            reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=1)
        traveller.move_to(after)

        fresh = reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=800)
        settle_request(reservation=in_flight, tokens=900)

    assert fresh.token_budget == 800, "the new period's whole allowance, with no job run"
    counter = Counter.objects.get(team=team, period=period)
    assert (counter.requests, counter.tokens, counter.tokens_reserved) == (1, 0, 800)
    assert counter.start == after.replace(hour=0, minute=0, second=0)


@pytest.mark.parametrize("period", ENDS)
def test_a_request_settled_after_its_period_ended_but_before_the_next_began_counts_in_its_own(ada, team, period):
    Limit.objects.create(team=team, metric="tokens", period=period, amount=1000)
    before, after = ENDS[period]
    with time_machine.travel(before, tick=False) as traveller:
        in_flight = reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=800)
        traveller.move_to(after)
        settle_request(reservation=in_flight, tokens=900)

        fresh = reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=800)

    assert fresh.token_budget == 800, "the old period's 900 tokens are not the new one's"
    counter = Counter.objects.get(team=team, period=period)
    assert (counter.tokens, counter.tokens_reserved, counter.requests) == (0, 800, 1)


def test_a_refund_after_the_period_ended_gives_nothing_to_the_new_one(ada, team):
    Limit.objects.create(team=team, metric="requests", period="day", amount=1)
    before, after = ENDS["day"]
    with time_machine.travel(before, tick=False) as traveller:
        in_flight = reserve_request(user_id=ada.pk, team_id=team.pk)
        traveller.move_to(after)
        reserve_request(user_id=ada.pk, team_id=team.pk)
        refund_request(reservation=in_flight)

        with pytest.raises(QuotaExceeded):
            reserve_request(user_id=ada.pk, team_id=team.pk)

    assert Counter.objects.get(team=team, period="day").requests == 1


def test_a_month_limit_in_february_of_a_non_leap_year_resets_on_march_first_and_not_before(ada):
    Limit.objects.create(user=ada, metric="requests", period="month", amount=1)
    with time_machine.travel(_local(2027, 2, 1, 9, 0), tick=False) as traveller:
        settle_request(reservation=reserve_request(user_id=ada.pk), tokens=10)  # ended: no lease to take for lost
        traveller.move_to(_local(2027, 2, 28, 23, 59, 0))
        with pytest.raises(QuotaExceeded) as refused:
            reserve_request(user_id=ada.pk)
        assert refused.value.retry_after == 60
        traveller.move_to(_local(2027, 3, 1, 0, 0, 1))

        granted = reserve_request(user_id=ada.pk)

    assert refused.value.resets_at == _local(2027, 3, 1)
    assert granted.allowance.requests_remaining == 0
    assert Counter.objects.get(user=ada, period="month").start == _local(2027, 3, 1)


def test_a_counter_already_in_a_later_period_is_not_rewound_by_a_host_whose_clock_is_behind(ada, team):
    Limit.objects.create(team=team, metric="requests", period="day", amount=2)
    before, after = ENDS["day"]
    with time_machine.travel(after, tick=False):  # a host whose clock passed midnight first
        reserve_request(user_id=ada.pk, team_id=team.pk)
    with time_machine.travel(before, tick=False):  # a host still before midnight
        reserve_request(user_id=ada.pk, team_id=team.pk)
        with pytest.raises(QuotaExceeded):
            reserve_request(user_id=ada.pk, team_id=team.pk)

    counter = Counter.objects.get(team=team, period="day")
    assert (counter.start, counter.requests) == (after.replace(hour=0, minute=0, second=0), 2)
