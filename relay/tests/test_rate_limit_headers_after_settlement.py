"""`x-ratelimit-remaining-tokens` on a non-streamed answer counts what is left after the request was
settled (its completion budget released, the tokens it used counted), over HTTP on every endpoint
that answers with the headers; a stream's headers leave before its usage is known, and count what is
left after its reservation."""

from __future__ import annotations

import pytest
import requests

from accounts.tokens import issue_access_token
from conversations.tests.helpers import conversation
from quota.models import Quota
from quota.services import quota_status
from relay.models import UsageRecord

LIMIT = 20_000


@pytest.fixture
def token_limited(user, settings):
    settings.CHATGATEWAY_COMPLETION_RESERVE = 4096
    Quota.objects.filter(user=user).update(daily_limit=10, daily_token_limit=LIMIT)
    return user


def ask(gateway, user, endpoint: str) -> requests.Response:
    """One non-streamed question to `endpoint`, as its clients ask it."""
    headers = {"Authorization": f"Bearer {issue_access_token(user)}"}
    if endpoint == "/api":
        return requests.get(f"{gateway.url}/api", params={"q": "Hi"}, headers=headers, timeout=20)
    if endpoint == "/api/chat/":
        body = {"prompt": "Hi"}
    elif endpoint == "/v1/chat/completions":
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    else:
        endpoint, body = f"/api/conversations/{conversation(user).pk}/messages/", {"content": "Hi"}
    return requests.post(f"{gateway.url}{endpoint}", json=body, headers=headers, timeout=20)


@pytest.mark.parametrize("endpoint", ["/v1/chat/completions", "/api/chat/", "/api", "conversation"])
def test_it_counts_the_tokens_remaining_after_the_answer_was_settled(gateway, token_limited, endpoint):
    response = ask(gateway, token_limited, endpoint)

    assert response.status_code in (200, 201)
    used = UsageRecord.objects.get(user=token_limited).total_tokens
    assert 0 < used < 4096
    assert response.headers["x-ratelimit-remaining-tokens"] == str(LIMIT - used)
    assert quota_status(user_id=token_limited.pk).tokens_remaining == LIMIT - used


def test_it_counts_the_tokens_left_after_every_settled_answer_and_agrees_with_the_refusal(gateway, token_limited):
    Quota.objects.filter(user=token_limited).update(daily_limit=3)
    answers = [ask(gateway, token_limited, "/v1/chat/completions") for _ in range(3)]
    refusal = ask(gateway, token_limited, "/v1/chat/completions")

    used = [record.total_tokens for record in UsageRecord.objects.filter(user=token_limited).order_by("id")]
    remaining = [int(answer.headers["x-ratelimit-remaining-tokens"]) for answer in answers]
    assert remaining == [LIMIT - sum(used[:1]), LIMIT - sum(used[:2]), LIMIT - sum(used)]
    assert refusal.status_code == 429
    assert refusal.headers["x-ratelimit-remaining-tokens"] == str(remaining[-1])


def test_a_streams_headers_count_the_tokens_left_after_its_reservation(gateway, token_limited):
    response = requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "Hi"}]},
        headers={"Authorization": f"Bearer {issue_access_token(token_limited)}"},
        timeout=20,
    )

    assert response.status_code == 200
    assert response.headers["x-ratelimit-remaining-tokens"] == str(LIMIT - 4096)
