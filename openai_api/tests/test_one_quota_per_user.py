"""One daily count per user, whichever endpoint and whichever credential they use."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
import requests

from accounts.tokens import issue_access_token
from apikeys.services import create_api_key
from conftest import used_today
from relay.models import UsageRecord


def test_every_endpoint_and_credential_draws_on_the_same_daily_count(gateway, make_user):
    user = make_user("shared", daily_limit=4)
    jwt = str(issue_access_token(user))
    _, raw_key = create_api_key(user=user, name="script")

    assert requests.get(f"{gateway.url}/api", params={"q": "one"}, headers=_bearer(jwt), timeout=10).ok
    assert requests.post(f"{gateway.url}/api/chat/", json={"prompt": "two"}, headers=_bearer(raw_key), timeout=10).ok
    by_key = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=raw_key, max_retries=0)
    by_key.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "three"}])
    by_jwt = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=jwt, max_retries=0)
    list(by_jwt.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "4"}], stream=True))

    assert used_today(user) == 4
    with pytest.raises(openai.RateLimitError):
        by_key.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "five"}])
    refused = requests.get(f"{gateway.url}/api", params={"q": "five"}, headers=_bearer(jwt), timeout=10)
    assert refused.json()["statu"] is False
    assert used_today(user) == 4


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def test_simultaneous_streams_take_exactly_the_requests_left(gateway, make_user):
    user = make_user("burst", daily_limit=5)
    jwt = str(issue_access_token(user))
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "go [dev:interval=0.05]"}]}

    def stream() -> int:
        url = f"{gateway.url}/v1/chat/completions"
        with requests.post(url, json=body, headers=_bearer(jwt), stream=True, timeout=30) as response:
            b"".join(response.iter_content(None))
            return response.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = Counter(pool.map(lambda _: stream(), range(20)))

    assert statuses == {200: 5, 429: 15}
    assert used_today(user) == 5
    assert UsageRecord.objects.filter(user=user, status_code=200).count() == 5
