"""Each relayed request's usage record keeps what it cost: its tokens at the price of the deployment that
answered (providers.Price, through the catalog's snapshot), in nanos of CHATGATEWAY_CURRENCY. Real HTTP
through the OpenAI SDK against the development upstream."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import openai
import pytest
from django.utils import timezone

from accounts.tokens import issue_access_token
from providers.models import Deployment, Price
from providers.tests.prices import only_these_prices, priced
from relay.models import UsageRecord
from relay.tests.routed import ask

MILLION = 10**6


@pytest.fixture(autouse=True)
def no_shipped_prices(transactional_db):
    only_these_prices()


@pytest.fixture
def client(gateway, user) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=str(issue_access_token(user)), max_retries=0)


def ask_sdk(client: openai.OpenAI, content: str = "Hello there", *, model: str = "gpt-4o-mini", stream: bool = False):
    messages = [{"role": "user", "content": content}]
    if stream:
        return list(client.chat.completions.create(model=model, messages=messages, stream=True))
    return client.chat.completions.create(model=model, messages=messages)


def nanos(tokens: int, per_million: str) -> Decimal:
    return tokens * Decimal(per_million) * 10**9 / MILLION


@pytest.mark.parametrize("stream", [False, True], ids=["unstreamed", "streamed"])
def test_a_relayed_requests_record_carries_the_exact_cost_from_the_table(client, user, settings, stream):
    settings.CHATGATEWAY_CURRENCY = "USD"
    priced(input="0.15", output="0.60")

    ask_sdk(client, stream=stream)

    record = UsageRecord.objects.get(user=user)
    assert record.status_code == 200
    assert record.prompt_tokens > 0
    assert record.completion_tokens > 0
    expected = nanos(record.prompt_tokens, "0.15") + nanos(record.completion_tokens, "0.60")
    assert expected == int(expected)  # whole nanos at these prices: no rounding in play
    assert (record.cost, record.currency) == (int(expected), "USD")


def test_a_price_change_applies_to_the_next_request_and_never_rewrites_old_records(client, user):
    old = priced(input="1", output="2")
    ask_sdk(client, "first")
    first = UsageRecord.objects.get(user=user)

    old.input, old.output = Decimal("10"), Decimal("20")
    old.save()  # as admin saves it: the catalog's version grows and this process reloads on commit
    ask_sdk(client, "second")

    second = UsageRecord.objects.filter(user=user).exclude(pk=first.pk).get()
    first_cost = first.cost
    first.refresh_from_db()
    assert first.cost == first_cost == int(nanos(first.prompt_tokens, "1") + nanos(first.completion_tokens, "2"))
    assert second.cost == int(nanos(second.prompt_tokens, "10") + nanos(second.completion_tokens, "20"))


def test_a_price_dated_tomorrow_waits_for_its_day(client, user):
    priced(input="1", output="1")
    priced(input="100", output="100", valid_from=timezone.localdate() + dt.timedelta(days=1))

    ask_sdk(client)

    record = UsageRecord.objects.get(user=user)
    assert record.cost == int(nanos(record.total_tokens, "1"))


def test_cached_prompt_tokens_are_charged_at_the_cached_price(client, user):
    priced(input="2", cached_input="0.5", output="0")

    ask_sdk(client, "one two three four five six [dev:cached=4]")  # 7 prompt tokens, 4 of them cached

    record = UsageRecord.objects.get(user=user)
    assert record.prompt_tokens == 7
    assert record.cost == int(nanos(3, "2") + nanos(4, "0.5"))


@pytest.mark.parametrize("stream", [False, True], ids=["unstreamed", "streamed"])
def test_a_native_responses_cached_input_is_charged_at_the_cached_price(client, user, stream):
    priced(input="2", cached_input="0.5", output="0")

    answer = client.responses.create(
        model="gpt-4o-mini", input="one two three four five six [dev:cached=4]", stream=stream
    )
    if stream:
        list(answer)

    record = UsageRecord.objects.get(user=user)
    cached = 4
    assert record.endpoint == "responses"
    assert record.cost == int(nanos(record.prompt_tokens - cached, "2") + nanos(cached, "0.5"))


def test_cached_prompt_tokens_cost_the_input_price_when_no_cached_price_is_set(client, user):
    priced(input="2", output="0")

    ask_sdk(client, "one two three four five six [dev:cached=4]")

    assert UsageRecord.objects.get(user=user).cost == int(nanos(7, "2"))


def test_a_failed_call_costs_nothing(client, user, dev_upstream):
    priced(input="1000", output="1000")
    dev_upstream.fault = "[dev:status=500]"

    with pytest.raises(openai.InternalServerError):
        ask_sdk(client)

    record = UsageRecord.objects.get(user=user)
    assert (record.error, record.cost) == ("upstream_http_500", 0)


def test_a_stream_that_fails_midway_costs_nothing(gateway, user):
    priced(input="1000", output="1000")

    response = ask(gateway, user, "gpt-4o-mini", "Hello [dev:error_event]", stream=True)

    assert response.status_code == 200  # the stream had begun; it ends with its error event
    record = UsageRecord.objects.get(user=user)
    assert (record.error, record.cost) == ("upstream_stream_error", 0)


def test_an_unpriced_model_costs_nothing_on_its_record(client, user, settings):
    settings.CHATGATEWAY_CURRENCY = "CNY"

    ask_sdk(client)

    record = UsageRecord.objects.get(user=user)
    assert (record.status_code, record.cost, record.currency) == (200, 0, "CNY")


def test_a_deployments_own_price_wins_over_its_provider_models_and_its_public_models(gateway, user, routes, upstreams):
    upstream = upstreams()
    provider = routes.provider("first", upstream)
    model = routes.model("smart", (provider, "model-one"))
    deployment = Deployment.objects.get(model=model)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    Price.objects.create(model_name="smart", input=Decimal(1), output=Decimal(1), valid_from=yesterday)
    by_upstream = Price.objects.create(
        model_name="model-one", input=Decimal(2), output=Decimal(2), valid_from=yesterday
    )
    own = Price.objects.create(deployment=deployment, input=Decimal(3), output=Decimal(3), valid_from=yesterday)
    routes.load()

    assert ask(gateway, user, "smart").status_code == 200
    own.delete()
    routes.load()
    assert ask(gateway, user, "smart").status_code == 200
    by_upstream.delete()
    routes.load()
    assert ask(gateway, user, "smart").status_code == 200

    records = list(UsageRecord.objects.filter(user=user).order_by("pk"))
    assert [record.cost for record in records] == [
        int(nanos(record.total_tokens, per_million)) for record, per_million in zip(records, "321", strict=True)
    ]
