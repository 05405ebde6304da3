"""`/api/chat/` and `/api` under token limits: a budget caps the answer, usage settles, and the
rate-limit headers tell the client where it stands."""

from __future__ import annotations

from quota.models import Quota
from quota.services import quota_status
from relay.models import UsageRecord


def test_a_token_limit_caps_the_answer_and_settles_its_usage(api, user, dev_upstream, settings):
    settings.CHATGATEWAY_COMPLETION_RESERVE = 700
    Quota.objects.filter(user=user).update(daily_token_limit=1000)

    response = api.post("/api/chat/", {"prompt": "Hi there"}, format="json")

    assert response.status_code == 200
    assert dev_upstream.received[-1]["body"]["max_tokens"] == 700
    used = response.json()["usage"]["total_tokens"]
    assert quota_status(user_id=user.pk).tokens_used_today == used
    assert response.json()["quota"]["tokens_remaining"] == 1000 - used
    assert response["x-ratelimit-remaining-tokens"] == str(1000 - used)


def test_without_a_token_limit_the_answer_is_not_capped(api, dev_upstream):
    api.post("/api/chat/", {"prompt": "Hi"}, format="json")

    assert "max_tokens" not in dev_upstream.received[-1]["body"]


def test_the_original_api_carries_the_rate_limit_headers_too(api):
    response = api.get("/api", {"q": "hi"})

    assert response["x-ratelimit-limit-requests"] == "10"
    assert response["x-ratelimit-remaining-requests"] == "9"
    assert "x-ratelimit-limit-tokens" not in response


def test_a_refusal_carries_them_with_nothing_remaining(api, user):
    Quota.objects.filter(user=user).update(daily_limit=1)
    api.get("/api", {"q": "hi"})

    response = api.get("/api", {"q": "again"})

    assert response.status_code == 429
    assert response["x-ratelimit-remaining-requests"] == "0"
    assert int(response["Retry-After"]) > 0


def test_an_answer_without_usage_is_estimated(api, user):
    api.post("/api/chat/", {"prompt": "count me [dev:nousage]"}, format="json")

    record = UsageRecord.objects.get(user=user)
    assert record.estimated
    assert record.total_tokens == record.prompt_tokens + record.completion_tokens > 0


def test_prompt_and_answer_text_are_kept_only_when_asked(api, user, settings):
    api.post("/api/chat/", {"prompt": "secret plans"}, format="json")
    settings.CHATGATEWAY_STORE_TEXT = True
    api.post("/api/chat/", {"prompt": "public plans"}, format="json")

    kept = dict(UsageRecord.objects.values_list("prompt_text", "completion_text"))
    assert kept[""] == "", "the first, before the setting, kept nothing"
    assert "public plans" in kept
    assert "public plans" in kept["public plans"]


def test_a_cap_the_client_set_lower_than_its_share_is_left_as_it_is(api, user, dev_upstream):
    Quota.objects.filter(user=user).update(daily_token_limit=1000)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}

    response = api.post("/v1/chat/completions", {**body, "max_tokens": 5, "max_completion_tokens": 100}, format="json")

    assert response.status_code == 200
    sent = dev_upstream.received[-1]["body"]
    assert (sent["max_tokens"], sent["max_completion_tokens"]) == (5, 100)  # 100 reserved; 5 not raised to it
