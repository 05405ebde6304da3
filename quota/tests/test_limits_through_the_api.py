"""The limits of keys, users and teams as clients meet them through the API: the answer that refuses (its
status, code, header naming the limit, Retry-After, message in the client's language), the completion cap
sent upstream, and what a failed call gives back."""

from __future__ import annotations

import datetime as dt

import openai
import pytest
import time_machine
from rest_framework.test import APIClient

from apikeys.services import create_api_key
from quota.models import Counter, Limit, Quota
from relay.models import UsageRecord

ONE_MINUTE_PAST_NOON = dt.datetime(2026, 5, 4, 12, 1, 20, tzinfo=dt.UTC)
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}


def _client(credential: str, **headers: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {credential}", **headers)
    return client


def test_a_keys_minute_limit_refuses_the_next_request_that_minute_and_grants_again_the_next(ada):
    key, raw_key = create_api_key(user=ada, name="script")
    Limit.objects.create(api_key=key, metric="requests", period="minute", amount=1)
    client = _client(raw_key)

    with time_machine.travel(ONE_MINUTE_PAST_NOON, tick=False) as traveller:
        assert client.post("/v1/chat/completions", BODY, format="json").status_code == 200
        refused = client.post("/v1/chat/completions", BODY, format="json")
        traveller.shift(dt.timedelta(seconds=40))  # 12:02:00: a new minute
        granted = client.post("/v1/chat/completions", BODY, format="json")

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "minute_requests_limit_reached"
    assert refused["x-chatgateway-limit"] == "api_key minute requests"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert granted.status_code == 200
    assert Quota.objects.get(user=ada).used == 2


def test_the_same_key_limit_refuses_through_the_openai_sdk_over_http(gateway, ada):
    key, raw_key = create_api_key(user=ada, name="script")
    Limit.objects.create(api_key=key, metric="requests", period="minute", amount=1)
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=raw_key, max_retries=0)
    client.chat.completions.create(**BODY)

    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(**BODY)

    assert refused.value.code == "minute_requests_limit_reached"
    assert refused.value.response.headers["x-chatgateway-limit"] == "api_key minute requests"
    assert 0 < int(refused.value.response.headers["retry-after"]) <= 60


def test_a_token_limit_lowers_the_max_tokens_sent_upstream(ada, team, dev_upstream, settings):
    settings.CHATGATEWAY_COMPLETION_RESERVE = 4000
    Limit.objects.create(team=team, metric="tokens", period="week", amount=250)
    _, raw_key = create_api_key(user=ada, name="script")

    response = _client(raw_key).post("/v1/chat/completions", {**BODY, "max_tokens": 1000}, format="json")

    assert response.status_code == 200
    assert dev_upstream.received[-1]["body"]["max_tokens"] == 250
    counter = Counter.objects.get(team=team, period="week")
    assert (counter.tokens, counter.tokens_reserved) == (response.json()["usage"]["total_tokens"], 0)


def test_a_failed_upstream_call_gives_every_counter_everything_back(ada, team):
    key, raw_key = create_api_key(user=ada, name="script")
    Limit.objects.create(api_key=key, metric="requests", period="minute", amount=5)
    Limit.objects.create(user=ada, metric="tokens", period="month", amount=10_000)
    Limit.objects.create(team=team, metric="requests", period="week", amount=5)
    failing = {**BODY, "messages": [{"role": "user", "content": "fail [dev:status=500]"}]}

    response = _client(raw_key).post("/v1/chat/completions", failing, format="json")

    assert response.status_code == 502
    assert Counter.objects.count() == 3
    for counter in Counter.objects.all():
        assert (counter.requests, counter.tokens, counter.tokens_reserved) == (0, 0, 0)
    assert Quota.objects.get(user=ada).used == 0


def test_a_limit_of_zero_blocks_with_a_403(ada, team):
    Limit.objects.create(team=team, metric="requests", period="month", amount=0)
    _, raw_key = create_api_key(user=ada, name="script")

    response = _client(raw_key).post("/v1/chat/completions", BODY, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "relay_blocked"
    assert "Retry-After" not in response


def test_a_used_up_total_limit_is_a_403_without_retry_after(ada):
    Limit.objects.create(user=ada, metric="requests", period="total", amount=1)
    _, raw_key = create_api_key(user=ada, name="script")
    client = _client(raw_key)
    assert client.post("/v1/chat/completions", BODY, format="json").status_code == 200

    response = client.post("/v1/chat/completions", BODY, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "total_requests_limit_reached"
    assert "Retry-After" not in response


def test_the_refusal_names_the_teams_limit_in_english(ada, team):
    Limit.objects.create(team=team, metric="requests", period="week", amount=1)
    _, raw_key = create_api_key(user=ada, name="script")
    client = _client(raw_key)
    client.post("/api/chat/", {"prompt": "one"}, format="json")

    refused = client.post("/api/chat/", {"prompt": "two"}, format="json", HTTP_ACCEPT_LANGUAGE="en")

    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("The team “course-101”'s limit of 1 requests a week is reached.")


def test_the_refusal_names_the_teams_limit_in_chinese(ada, team):
    Limit.objects.create(team=team, metric="requests", period="week", amount=1)
    _, raw_key = create_api_key(user=ada, name="script")
    client = _client(raw_key)
    client.post("/api/chat/", {"prompt": "one"}, format="json")

    refused = client.post("/api/chat/", {"prompt": "two"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-Hans")

    assert refused.status_code == 429
    assert refused["Content-Language"] == "zh-hans"
    assert "course-101" in refused.json()["detail"]
    assert refused.json()["detail"].startswith("团队")


@pytest.mark.parametrize(("scope", "english", "chinese"), [("api_key", "This API key's", "此 API 密钥"),
                                                           ("user", "Your", "你的")])  # fmt: skip
def test_the_refusal_names_a_keys_or_a_users_limit_in_either_language(ada, scope, english, chinese):
    key, raw_key = create_api_key(user=ada, name="script")
    Limit.objects.create(**{scope: key if scope == "api_key" else ada}, metric="requests", period="week", amount=1)
    client = _client(raw_key)
    client.post("/api/chat/", {"prompt": "one"}, format="json")

    in_english = client.post("/api/chat/", {"prompt": "two"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    in_chinese = client.post("/api/chat/", {"prompt": "two"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-Hans")

    assert in_english.json()["detail"].startswith(english)
    assert in_chinese.json()["detail"].startswith(chinese)
    assert UsageRecord.objects.filter(user=ada, status_code=200).count() == 1


def test_the_rate_limit_headers_report_the_binding_limit_of_the_team(ada, team):
    Limit.objects.create(team=team, metric="requests", period="week", amount=3)
    Limit.objects.create(team=team, metric="tokens", period="month", amount=5000)
    _, raw_key = create_api_key(user=ada, name="script")

    response = _client(raw_key).post("/v1/chat/completions", {**BODY, "max_tokens": 100}, format="json")

    assert response.status_code == 200
    assert (response["x-ratelimit-limit-requests"], response["x-ratelimit-remaining-requests"]) == ("3", "2")
    used = response.json()["usage"]["total_tokens"]
    assert response["x-ratelimit-limit-tokens"] == "5000"
    assert response["x-ratelimit-remaining-tokens"] == str(5000 - used)
