"""A limit in money, through the real API: each request reserves its worst case (its estimated prompt and its
completion cap at the highest price of the deployments it may go to), the cap sent upstream is lowered to
what the money left pays for, and the counter ends at exactly what the records were charged. Real HTTP
through the OpenAI SDK against the development upstream."""

from __future__ import annotations

from decimal import Decimal

import openai
import pytest

from accounts.tokens import issue_access_token
from core.money import NANOS
from providers.tests import prices
from providers.tests.prices import priced
from quota.models import Counter, Lease, Limit
from relay.models import UsageRecord


@pytest.fixture(autouse=True)
def only_these_prices(transactional_db):
    prices.only_these_prices()


@pytest.fixture
def client(gateway, user) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=str(issue_access_token(user)), max_retries=0)


def ask(client: openai.OpenAI, **params):
    return client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello there"}], **params
    )


def test_a_monthly_cost_limit_counts_exactly_what_the_records_were_charged(client, user):
    priced(input="1", output="2")  # dollars per million tokens
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("1.00"))

    answers = [ask(client) for _ in range(3)]

    charged = sum(UsageRecord.objects.filter(user=user).values_list("cost", flat=True))
    assert charged > 0
    counter = Counter.objects.get(user=user, period="month")
    assert (counter.requests, counter.cost, counter.cost_reserved, counter.tokens_reserved) == (3, charged, 0, 0)
    last = answers[-1].headers
    assert last["x-ratelimit-limit-cost"] == "1"
    assert last["x-ratelimit-cost-currency"] == "USD"
    assert Decimal(last["x-ratelimit-remaining-cost"]) == Decimal(NANOS - charged) / NANOS
    assert not Lease.objects.exists()


def test_the_cap_sent_upstream_is_lowered_to_what_the_money_left_pays_for(client, user, dev_upstream):
    priced(input="0", output="1000")  # a thousand dollars per million output tokens: a tenth of a cent a token
    Limit.objects.create(user=user, metric="cost", period="day", amount=Decimal("0.05"))

    ask(client, max_tokens=4000)

    # $0.05 pays for 50 completion tokens at $0.001 each, whatever was asked.
    assert dev_upstream.received[-1]["body"]["max_tokens"] == 50


def test_too_little_money_left_for_the_prompt_is_refused_and_costs_nothing(client, user):
    priced(input="1000000", output="1")  # a dollar a prompt token
    Limit.objects.create(user=user, metric="cost", period="week", amount=Decimal("0.50"))

    with pytest.raises(openai.RateLimitError) as refused:
        ask(client)

    assert refused.value.code == "week_cost_limit_reached"
    assert refused.value.response.headers["x-chatgateway-limit"] == "user week cost"
    assert "Your limit of $0.50 a week is reached" in refused.value.message
    assert not UsageRecord.objects.exists()
    counter = Counter.objects.get(user=user, period="week")
    assert (counter.requests, counter.cost, counter.cost_reserved) == (0, 0, 0)


def test_a_model_without_a_price_is_refused_under_a_cost_limit_and_served_without_one(client, user):
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("5"))

    with pytest.raises(openai.PermissionDeniedError) as refused:
        ask(client)

    assert refused.value.code == "model_not_priced"
    assert not UsageRecord.objects.exists()
    Limit.objects.all().delete()
    assert ask(client).http_response.status_code == 200


def test_a_failed_call_gives_back_its_request_and_its_reserved_money(client, user, dev_upstream):
    priced(input="1", output="2")
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("1"))
    Limit.objects.create(user=user, metric="requests", period="month", amount=5)

    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "[dev:status=500] fail"}]
        )

    counter = Counter.objects.get(user=user, period="month")
    assert (counter.requests, counter.cost, counter.cost_reserved, counter.tokens_reserved) == (0, 0, 0, 0)
    assert UsageRecord.objects.get(user=user).cost == 0
