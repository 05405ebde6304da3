"""The same daily quota as /api/chat/: charged once per answered message, refunded when the upstream fails."""

from __future__ import annotations

import re

import pytest

from conftest import used_today
from conversations.models import Message
from conversations.tests.helpers import conversation
from quota.models import Plan
from relay.models import UsageRecord


@pytest.fixture
def chat(user):
    return conversation(user, messages=[("user", "Hi"), ("assistant", "Hello!")])


def send(api, chat, content: str, **extra):
    return api.post(f"/api/conversations/{chat.pk}/messages/", {"content": content, **extra}, format="json")


def test_each_answered_message_costs_one_request_shared_with_the_other_endpoints(api, user, chat):
    send(api, chat, "one")
    api.post("/api/chat/", {"prompt": "two"}, format="json")
    send(api, chat, "three")

    assert used_today(user) == 3
    assert UsageRecord.objects.filter(endpoint="conversation").count() == 2


@pytest.mark.parametrize("stream", [False, True])
def test_a_user_at_the_limit_gets_the_same_429_as_the_chat_endpoint_and_nothing_is_kept(
    api, make_user, user, chat, dev_upstream, stream
):
    user.quota.daily_limit = 1
    user.quota.save()
    send(api, chat, "the last one")
    before = dev_upstream.received_count

    response = send(api, chat, "one too many", stream=stream)
    chat_response = api.post("/api/chat/", {"prompt": "one too many"}, format="json")

    assert response.status_code == 429
    # The same words, up to the seconds left, which may have ticked between the two requests.
    assert _without_seconds(response.json()) == _without_seconds(chat_response.json())
    assert response.json()["detail"].startswith("Daily limit of 1 requests reached.")
    assert int(response["Retry-After"]) > 0
    assert response["x-ratelimit-remaining-requests"] == "0"
    assert dev_upstream.received_count == before
    assert Message.objects.filter(conversation=chat).count() == 4
    assert used_today(user) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_a_blocked_user_gets_403(api, user, chat, stream):
    user.quota.daily_limit = 0
    user.quota.save()

    response = send(api, chat, "hello?", stream=stream)

    assert response.status_code == 403
    assert "blocked" in response.json()["detail"]


def test_a_token_limit_caps_the_reply_as_it_does_for_chat(api, user, chat, dev_upstream, settings):
    settings.CHATGATEWAY_COMPLETION_RESERVE = 50
    user.quota.plan = Plan.objects.create(name="tight", daily_request_limit=10, daily_token_limit=1000)
    user.quota.save()

    response = send(api, chat, "How long?")

    assert response.status_code == 201
    assert dev_upstream.received[-1]["body"]["max_tokens"] == 50
    assert response["x-ratelimit-limit-tokens"] == "1000"


@pytest.mark.parametrize(
    ("directive", "status", "reason"),
    [
        ("[dev:status=500]", 502, "upstream_http_500"),
        ("[dev:status=429]", 503, "upstream_rate_limited"),
        ("[dev:garbage]", 502, "upstream_malformed_response"),  # streamed: upstream_stream_cut
        ("[dev:drop]", 502, "upstream_unreachable"),
        ("[dev:delay=2]", 504, "upstream_timeout"),
        ("[dev:status=400]", 400, "upstream_http_400"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_an_upstream_failure_is_refunded_recorded_and_keeps_nothing(
    api, user, chat, settings, directive, status, reason, stream
):
    settings.OPENAI_TIMEOUT = 1.0

    response = send(api, chat, f"Please fail {directive}", stream=stream)

    assert response.status_code == status
    assert set(response.json()) == {"detail"}
    assert "dev_fault" not in response.content.decode()
    assert used_today(user) == 0
    record = UsageRecord.objects.get(user=user)
    if stream and directive == "[dev:garbage]":
        reason = "upstream_stream_cut"  # an SSE reader finds no event in a body that is not a stream
    assert (record.endpoint, record.stream) == ("conversation", stream)
    assert (record.status_code, record.error) == (status, reason)
    assert Message.objects.filter(conversation=chat).count() == 2


def _without_seconds(body: dict) -> dict:
    return {**body, "detail": re.sub(r"\d+ seconds", "N seconds", body["detail"])}
