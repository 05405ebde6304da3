"""Daily token limits: a completion budget reserved when a request starts, settled when it ends."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from quota import clock
from quota.exceptions import QuotaExceeded
from quota.models import Plan, Quota
from quota.services import quota_status, refund_request, reserve_request, reset_today, settle_request

NOON = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_noon():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def limited(make_user):
    user = make_user()
    Quota.objects.filter(user=user).update(daily_token_limit=1000, daily_limit=100)
    return user


def test_without_a_token_limit_nothing_is_reserved(user):
    reservation = reserve_request(user_id=user.pk, completion_tokens=800)

    assert reservation.token_budget is None
    assert reservation.allowance.token_limit is None


def test_a_budget_is_what_was_asked_or_the_default_reserve(limited, settings):
    settings.CHATGATEWAY_COMPLETION_RESERVE = 300

    assert reserve_request(user_id=limited.pk, completion_tokens=200).token_budget == 200
    assert reserve_request(user_id=limited.pk).token_budget == 300


def test_budgets_in_flight_are_taken_from_what_later_requests_may_reserve(limited):
    first = reserve_request(user_id=limited.pk, completion_tokens=800)
    second = reserve_request(user_id=limited.pk, completion_tokens=800)

    assert (first.token_budget, second.token_budget) == (800, 200)
    assert second.allowance.tokens_remaining == 0
    with pytest.raises(QuotaExceeded) as refused:
        reserve_request(user_id=limited.pk, completion_tokens=1)
    assert refused.value.kind == "tokens"
    assert refused.value.limit == 1000


def test_settling_releases_the_budget_and_counts_the_tokens_used(limited):
    reservation = reserve_request(user_id=limited.pk, completion_tokens=800)

    settle_request(reservation=reservation, tokens=150)

    status = quota_status(user_id=limited.pk)
    assert status.tokens_used_today == 150
    assert status.tokens_remaining == 850
    assert Quota.objects.get(user=limited).tokens_reserved == 0


def test_a_refund_gives_back_the_request_and_its_budget(limited):
    reservation = reserve_request(user_id=limited.pk, completion_tokens=800)

    refund_request(reservation=reservation)

    status = quota_status(user_id=limited.pk)
    assert (status.used_today, status.tokens_used_today, status.tokens_remaining) == (0, 0, 1000)


def test_the_overshoot_is_bounded_by_the_prompts_in_flight(limited):
    """A request may use more than its budget only by its prompt: the budget capped its completion."""
    reservation = reserve_request(user_id=limited.pk, completion_tokens=900)
    settle_request(reservation=reservation, tokens=300 + 900)  # a 300-token prompt, a full completion

    assert quota_status(user_id=limited.pk).tokens_used_today == 1200
    with pytest.raises(QuotaExceeded):
        reserve_request(user_id=limited.pk)


def test_a_plan_sets_the_limits_and_a_users_own_limit_beats_it(make_user):
    student = Plan.objects.create(name="student", daily_request_limit=30, daily_token_limit=50_000)
    ada, bob = make_user("ada"), make_user("bob")
    Quota.objects.filter(user__in=[ada, bob]).update(plan=student)
    Quota.objects.filter(user=bob).update(daily_limit=5, daily_token_limit=70_000)

    assert reserve_request(user_id=ada.pk).allowance.request_limit == 30
    assert reserve_request(user_id=ada.pk).allowance.token_limit == 50_000
    assert reserve_request(user_id=bob.pk).allowance.request_limit == 5
    assert reserve_request(user_id=bob.pk).allowance.token_limit == 70_000


def test_a_change_to_a_plan_applies_to_the_next_request(make_user):
    plan = Plan.objects.create(name="trial", daily_request_limit=1, daily_token_limit=None)
    ada = make_user("ada")
    Quota.objects.filter(user=ada).update(plan=plan)
    reserve_request(user_id=ada.pk)
    with pytest.raises(QuotaExceeded):
        reserve_request(user_id=ada.pk)

    plan.daily_request_limit = 2
    plan.save()

    assert reserve_request(user_id=ada.pk).allowance.requests_remaining == 0


def test_the_default_token_limit_comes_from_settings(user, settings):
    settings.CHATGATEWAY_DAILY_TOKEN_LIMIT = 5000

    assert reserve_request(user_id=user.pk, completion_tokens=10_000).token_budget == 5000


def test_a_request_in_flight_at_midnight_is_not_charged_to_the_new_day(limited, frozen_noon):
    frozen_noon.move_to(dt.datetime(2026, 5, 4, 23, 59, 59, tzinfo=dt.UTC))
    late = reserve_request(user_id=limited.pk, completion_tokens=900)

    frozen_noon.move_to(dt.datetime(2026, 5, 5, 0, 0, 1, tzinfo=dt.UTC))
    fresh = reserve_request(user_id=limited.pk, completion_tokens=900)
    settle_request(reservation=late, tokens=950)  # yesterday's answer arrives after midnight

    assert fresh.token_budget == 900, "yesterday's budget in flight does not shrink today's"
    status = quota_status(user_id=limited.pk)
    assert (status.used_today, status.tokens_used_today) == (1, 0)
    settle_request(reservation=fresh, tokens=100)
    assert quota_status(user_id=limited.pk).tokens_remaining == 900


def test_an_admin_reset_never_moves_a_later_day_back(limited):
    """Another host's clock passed midnight first: the reset keeps that day (and ends the request in
    flight, whose settlement then changes nothing)."""
    tomorrow = clock.today() + dt.timedelta(days=1)
    Quota.objects.filter(user=limited).update(day=tomorrow)
    reservation = reserve_request(user_id=limited.pk, completion_tokens=300)

    reset_today(user_ids=[limited.pk])
    assert not settle_request(reservation=reservation, tokens=50)

    quota = Quota.objects.get(user=limited)
    assert (quota.day, quota.tokens_reserved, quota.tokens_used) == (tomorrow, 0, 0)
