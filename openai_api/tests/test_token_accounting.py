"""Token limits and accounting through `/v1`: budgets cap `max_tokens`, usage settles, estimates
stand in when the upstream reports none, and every answer carries OpenAI's rate-limit headers."""

from __future__ import annotations

import json

import openai
import pytest
import requests

from accounts.tokens import issue_access_token
from quota import clock
from quota.models import Quota
from quota.services import quota_status
from relay.models import UsageRecord


@pytest.fixture
def token_limited(user):
    Quota.objects.filter(user=user).update(daily_limit=5, daily_token_limit=1000)
    return user


def _chat(gateway, user, content, **extra):
    return requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra},
        headers={"Authorization": f"Bearer {issue_access_token(user)}"},
        timeout=20,
    )


def test_it_caps_max_tokens_to_what_is_left(gateway, token_limited, dev_upstream):
    _chat(gateway, token_limited, "Hi", max_tokens=5000)
    assert dev_upstream.received[-1]["body"]["max_tokens"] == 1000


def test_n_choices_share_the_budget(gateway, token_limited, dev_upstream):
    _chat(gateway, token_limited, "Hi", max_completion_tokens=500, n=3)

    sent = dev_upstream.received[-1]["body"]
    assert sent["max_completion_tokens"] == 1000 // 3, "three choices of 500 would pass the 1000 left"
    assert "max_tokens" not in sent


def test_it_leaves_max_tokens_alone_without_a_token_limit(gateway, user, dev_upstream):
    _chat(gateway, user, "Hi", max_tokens=5000)
    assert dev_upstream.received[-1]["body"]["max_tokens"] == 5000

    _chat(gateway, user, "Hi")
    assert "max_tokens" not in dev_upstream.received[-1]["body"]


def test_it_settles_the_reported_usage(gateway, token_limited):
    body = _chat(gateway, token_limited, "three words here").json()

    status = quota_status(user_id=token_limited.pk)
    assert status.tokens_used_today == body["usage"]["total_tokens"]
    assert status.tokens_remaining == 1000 - body["usage"]["total_tokens"]
    assert Quota.objects.get(user=token_limited).tokens_reserved == 0


@pytest.mark.parametrize("stream", [False, True])
def test_it_estimates_tokens_when_the_upstream_reports_none(gateway, token_limited, stream):
    response = _chat(gateway, token_limited, "no usage here [dev:nousage]", stream=stream)
    assert response.status_code == 200

    record = UsageRecord.objects.get(user=token_limited)
    assert record.estimated is True
    assert record.prompt_tokens > 0
    assert record.completion_tokens > 0
    assert quota_status(user_id=token_limited.pk).tokens_used_today == record.total_tokens


def test_a_stream_records_its_time_to_first_byte(gateway, user):
    _chat(gateway, user, "slow start [dev:delay=0.3]", stream=True)

    record = UsageRecord.objects.get(user=user)
    assert record.ttfb_ms >= 300
    assert record.latency_ms >= record.ttfb_ms


@pytest.mark.parametrize("stream", [False, True])
def test_every_answer_carries_openais_rate_limit_headers(gateway, token_limited, stream):
    response = _chat(gateway, token_limited, "Hi", stream=stream, max_tokens=100)

    assert response.headers["x-ratelimit-limit-requests"] == "5"
    assert response.headers["x-ratelimit-remaining-requests"] == "4"
    assert response.headers["x-ratelimit-limit-tokens"] == "1000"
    if stream:  # its headers leave before its usage is known
        assert response.headers["x-ratelimit-remaining-tokens"] == "900", "after this request's budget"
    else:
        used = response.json()["usage"]["total_tokens"]
        assert response.headers["x-ratelimit-remaining-tokens"] == str(1000 - used), "after this request's usage"
    assert response.headers["x-ratelimit-reset-requests"][-1] in "hms"


def test_a_token_limit_reached_is_a_429_the_sdk_does_not_retry(sdk, token_limited):
    Quota.objects.filter(user=token_limited).update(tokens_used=1000, day=clock.today())

    with pytest.raises(openai.RateLimitError) as caught:
        sdk().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])

    assert caught.value.code == "daily_token_limit_reached"
    assert "1,000 tokens" in caught.value.message
    headers = caught.value.response.headers
    assert headers["x-should-retry"] == "false"
    assert headers["x-ratelimit-remaining-tokens"] == "0"
    assert int(headers["Retry-After"]) > 0


@pytest.mark.parametrize("n", ["8", 8.0, True])
def test_n_must_be_a_json_integer(gateway, token_limited, n):
    """A lax upstream would take "8" as 8 choices, each with the whole budget."""
    response = _chat(gateway, token_limited, "Hi", n=n, max_tokens=500)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "n"


def test_both_completion_caps_are_capped_when_both_are_sent_and_neither_is_raised(gateway, token_limited, dev_upstream):
    """Some upstreams read only max_tokens, others only max_completion_tokens: each is within the budget, and
    the one the client set lower stays as it was (an upstream that reads it answers no longer than asked)."""
    _chat(gateway, token_limited, "Hi", max_completion_tokens=10, max_tokens=100_000)

    sent = dev_upstream.received[-1]["body"]
    assert (sent["max_tokens"], sent["max_completion_tokens"]) == (1000, 10)


@pytest.mark.parametrize("stream", [False, True], ids=["unstreamed", "streamed"])
def test_a_completion_stops_at_its_budget_so_the_limit_is_passed_only_by_the_prompt(gateway, token_limited, stream):
    """4 tokens left: the upstream is asked for at most 4 and stops there, as a real model does."""
    Quota.objects.filter(user=token_limited).update(tokens_used=996, day=clock.today())

    response = _chat(gateway, token_limited, "one two three four five six seven eight", stream=stream)

    assert response.status_code == 200
    if stream:
        chunks = [
            json.loads(line[len("data: ") :]) for line in response.text.splitlines() if line.startswith("data: {")
        ]
        finish = [chunk["choices"][0]["finish_reason"] for chunk in chunks if chunk["choices"]][-1]
    else:
        finish = response.json()["choices"][0]["finish_reason"]
    assert finish == "length"
    record = UsageRecord.objects.get(user=token_limited)
    assert (record.prompt_tokens, record.completion_tokens, record.estimated) == (8, 4, False)
    assert quota_status(user_id=token_limited.pk).tokens_used_today == 996 + 8 + 4
