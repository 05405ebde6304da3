"""Limits of keys, users (their own or their plan's) and teams, in requests, tokens and money, over their
periods: what each one refuses, what a request reserves under them, and what its settlement counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from apikeys.services import create_api_key
from quota.exceptions import ModelNotPriced, QuotaExceeded
from quota.limits import Pricing
from quota.models import Counter, Limit, Plan, Quota
from quota.services import refund_request, reserve_request, settle_request
from teams.models import Membership

NOON = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)
PRICING = Pricing(prompt_cost=1_000, output_per_token=Decimal(10))  # nano-units: a prompt, a completion token


@pytest.fixture(autouse=True)
def frozen_noon():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def _counter(**holder) -> Counter:
    return Counter.objects.get(**holder)


def test_a_users_own_limit_overrides_their_plans_of_the_same_metric_and_period_and_not_the_others(ada):
    plan = Plan.objects.create(name="student", daily_request_limit=1000)
    Quota.objects.filter(user=ada).update(plan=plan)
    Limit.objects.create(plan=plan, metric="requests", period="week", amount=1)
    Limit.objects.create(plan=plan, metric="requests", period="month", amount=2)
    Limit.objects.create(user=ada, metric="requests", period="week", amount=5)

    reserve_request(user_id=ada.pk)
    reserve_request(user_id=ada.pk)  # the plan's week limit of 1 is overridden by her own 5
    with pytest.raises(QuotaExceeded) as refused:
        reserve_request(user_id=ada.pk)

    assert (refused.value.applied.scope, refused.value.applied.period, refused.value.limit) == ("user", "month", 2)


def test_a_teams_limit_is_shared_by_its_members(ada, team, make_user):
    bob = make_user("bob")
    Membership.objects.create(team=team, user=bob)
    Limit.objects.create(team=team, metric="requests", period="day", amount=2)

    reserve_request(user_id=ada.pk, team_id=team.pk)
    reserve_request(user_id=bob.pk, team_id=team.pk)
    with pytest.raises(QuotaExceeded) as refused:
        reserve_request(user_id=bob.pk, team_id=team.pk)

    assert refused.value.applied.scope == "team"
    assert refused.value.applied.name == "course-101"
    assert refused.value.code == "day_requests_limit_reached"
    assert _counter(team=team, period="day").requests == 2


@pytest.mark.parametrize("scope", ["api_key", "user", "team"])
def test_a_request_must_fit_every_level_and_each_one_alone_refuses(ada, team, scope):
    key, _ = create_api_key(user=ada, name="laptop")
    holders = {"api_key": {"api_key": key}, "user": {"user": ada}, "team": {"team": team}}
    for level, holder in holders.items():
        Limit.objects.create(**holder, metric="requests", period="week", amount=1 if level == scope else 100)

    reserve_request(user_id=ada.pk, api_key_id=key.pk, team_id=team.pk)
    with pytest.raises(QuotaExceeded) as refused:
        reserve_request(user_id=ada.pk, api_key_id=key.pk, team_id=team.pk)

    assert refused.value.applied.scope == scope
    assert refused.value.headers["x-chatgateway-limit"] == f"{scope} week requests"
    assert Quota.objects.get(user=ada).used == 1, "the refused request took nothing"
    assert {c.requests for c in Counter.objects.all()} == {1}


def test_a_token_limit_lowers_the_budget_to_what_is_left(ada, team):
    Limit.objects.create(team=team, metric="tokens", period="month", amount=1000)

    first = reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=700)
    second = reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=700)

    assert (first.token_budget, second.token_budget) == (700, 300)
    with pytest.raises(QuotaExceeded) as held:
        reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=1)
    # All of it is set aside by the two still running: a 429 to retry in a moment, not the month's end.
    assert (held.value.status, held.value.code, held.value.retry_after) == (429, "limit_held_by_requests_in_flight", 2)
    assert "held by requests still running" in held.value.message

    settle_request(reservation=first, tokens=700)
    settle_request(reservation=second, tokens=300)
    with pytest.raises(QuotaExceeded) as refused:
        reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=1)
    assert refused.value.code == "month_tokens_limit_reached"


def test_a_cost_limit_lowers_the_budget_to_what_the_money_left_pays_for(ada):
    # 0.00005 of the currency: 50,000 nano-units; the prompt costs 1,000, a completion token 10.
    Limit.objects.create(user=ada, metric="cost", period="month", amount=Decimal("0.00005"))

    reservation = reserve_request(user_id=ada.pk, completion_tokens=10_000, pricing=PRICING)

    assert reservation.token_budget == (50_000 - 1_000) // 10
    assert reservation.cost_reserved == 50_000
    assert _counter(user=ada, period="month").cost_reserved == 50_000


def test_a_cost_limit_refuses_when_less_than_the_prompts_cost_is_left(ada):
    Limit.objects.create(user=ada, metric="cost", period="month", amount=Decimal("0.00005"))
    first = reserve_request(user_id=ada.pk, completion_tokens=4_850, pricing=PRICING)  # 49,500 reserved
    assert first.cost_reserved == 49_500

    with pytest.raises(QuotaExceeded) as held:
        reserve_request(user_id=ada.pk, completion_tokens=10, pricing=PRICING)  # 500 left, the prompt costs 1,000
    assert (held.value.kind, held.value.code) == ("cost", "limit_held_by_requests_in_flight")

    settle_request(reservation=first, tokens=4_850, cost=49_500)  # it cost all it reserved
    with pytest.raises(QuotaExceeded) as refused:
        reserve_request(user_id=ada.pk, completion_tokens=10, pricing=PRICING)

    assert refused.value.kind == "cost"
    assert refused.value.code == "month_cost_limit_reached"
    assert refused.value.status == 429


def test_settlement_adds_the_cost_and_the_tokens_to_every_counter_charged(ada, team):
    key, _ = create_api_key(user=ada, name="laptop")
    Limit.objects.create(api_key=key, metric="tokens", period="day", amount=10_000)
    Limit.objects.create(user=ada, metric="cost", period="month", amount=1)
    Limit.objects.create(team=team, metric="requests", period="week", amount=10)
    reservation = reserve_request(
        user_id=ada.pk, api_key_id=key.pk, team_id=team.pk, completion_tokens=500, pricing=PRICING
    )

    assert settle_request(reservation=reservation, tokens=320, cost=2_345)

    counters = [_counter(api_key=key, period="day"), _counter(user=ada, period="month"),
                _counter(team=team, period="week")]  # fmt: skip
    assert [(c.requests, c.tokens, c.cost, c.tokens_reserved, c.cost_reserved) for c in counters] == [
        (1, 320, 2_345, 0, 0)
    ] * 3


def test_a_failed_request_gives_everything_back(ada, team):
    Limit.objects.create(team=team, metric="tokens", period="week", amount=10_000)
    Limit.objects.create(user=ada, metric="cost", period="month", amount=1)
    reservation = reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=500, pricing=PRICING)

    assert refund_request(reservation=reservation)

    for counter in Counter.objects.all():
        assert (counter.requests, counter.tokens, counter.cost, counter.tokens_reserved, counter.cost_reserved) == (
            0, 0, 0, 0, 0,
        )  # fmt: skip


def test_a_limit_of_zero_blocks_with_a_403(ada, team):
    Limit.objects.create(team=team, metric="tokens", period="month", amount=0)

    with pytest.raises(QuotaExceeded) as refused:
        reserve_request(user_id=ada.pk, team_id=team.pk, counts_request=False)

    assert (refused.value.status, refused.value.code, refused.value.retry_after) == (403, "relay_blocked", None)


def test_a_total_limit_used_up_is_a_403_that_never_resets(ada):
    Limit.objects.create(user=ada, metric="requests", period="total", amount=1)
    reserve_request(user_id=ada.pk)

    with pytest.raises(QuotaExceeded) as refused:
        reserve_request(user_id=ada.pk)

    assert (refused.value.status, refused.value.code) == (403, "total_requests_limit_reached")
    assert refused.value.retry_after is None
    assert "Retry-After" not in refused.value.headers
    assert "It does not reset" in refused.value.message


def test_a_cost_limit_refuses_a_model_without_a_price_and_takes_nothing(ada, team):
    Limit.objects.create(team=team, metric="cost", period="month", amount=1)

    with pytest.raises(ModelNotPriced) as refused:
        reserve_request(user_id=ada.pk, team_id=team.pk, pricing=None, model="gpt-unpriced")

    assert (refused.value.status, refused.value.code) == (403, "model_not_priced")
    assert "gpt-unpriced" in refused.value.message
    assert Quota.objects.get(user=ada).used == 0
    assert _counter(team=team, period="month").requests == 0


def test_a_budget_shared_by_several_answers_gives_each_a_token_or_refuses(ada, team):
    """Each answer is capped to its share of the budget, at least a token: with fewer tokens left than
    answers, the answers together would pass the limit, so the request is refused."""
    Limit.objects.create(team=team, metric="tokens", period="month", amount=5)

    with pytest.raises(QuotaExceeded) as refused:
        reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=16 * 8, answers=8)
    granted = reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=16 * 5, answers=5)

    assert refused.value.code == "month_tokens_limit_reached"
    assert granted.token_budget == 5


def test_a_refusal_reports_every_binding_limit_with_its_own_reset(ada, team):
    key, _ = create_api_key(user=ada, name="script")
    Limit.objects.create(api_key=key, metric="requests", period="minute", amount=1)
    Limit.objects.create(team=team, metric="cost", period="month", amount=Decimal("2"))
    Quota.objects.filter(user=ada).update(daily_token_limit=50_000)
    reserve_request(user_id=ada.pk, api_key_id=key.pk, team_id=team.pk, pricing=PRICING)

    with pytest.raises(QuotaExceeded) as refused:
        reserve_request(user_id=ada.pk, api_key_id=key.pk, team_id=team.pk, pricing=PRICING)

    headers = refused.value.headers
    assert headers["x-chatgateway-limit"] == "api_key minute requests"
    assert (headers["x-ratelimit-limit-requests"], headers["x-ratelimit-remaining-requests"]) == ("1", "0")
    assert headers["x-ratelimit-reset-requests"] == "1m"  # the minute's end (the clock stands at noon)
    assert headers["x-ratelimit-reset-tokens"] == "12h"  # the day's end, not the minute's
    assert headers["x-ratelimit-limit-cost"] == "2"
    assert headers["x-ratelimit-cost-currency"] == "USD"
    assert "x-ratelimit-reset-cost" in headers
