"""What the model reads and writes is counted in full, however it is carried: the prompt-size check and the
token estimates (for an upstream that reports no usage, or a client that leaves) count tools, functions,
response formats and predictions, and an answer's tool calls (relay/estimates.py)."""

from __future__ import annotations

import time

import pytest
import requests

from accounts.tokens import issue_access_token
from quota.models import Quota
from relay.models import UsageRecord


def _post(gateway, user, body: dict, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {issue_access_token(user)}"}
    return requests.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=20, **kwargs)


def _chat(content: str, **fields) -> dict:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **fields}


def test_an_answers_tool_calls_are_counted_when_the_upstream_reports_no_usage(gateway, user):
    Quota.objects.filter(user=user).update(daily_token_limit=3000)

    answered = _post(gateway, user, _chat("look it up [dev:nousage] [dev:tool_call=4000]"))

    assert answered.status_code == 200
    assert answered.json()["choices"][0]["message"]["tool_calls"]
    record = UsageRecord.objects.get(user=user)
    assert record.estimated
    assert record.completion_tokens >= 1000  # 4,000 characters of arguments; it was 0
    user.quota.refresh_from_db()
    assert user.quota.tokens_used >= 1000


def test_a_client_leaving_a_stream_is_charged_for_the_functions_it_sent(gateway, user, settings):
    settings.CHATGATEWAY_MAX_PROMPT_CHARS = 100_000
    functions = [{"name": "search", "description": "d" * 40_000, "parameters": {"type": "object"}}]
    body = _chat("hi [dev:chunks=30] [dev:interval=0.2]", stream=True, functions=functions)

    with _post(gateway, user, body, stream=True) as response:
        assert response.status_code == 200
        next(response.iter_lines())  # the first chunk, then the client goes away

    deadline = time.monotonic() + 10
    while not (records := list(UsageRecord.objects.filter(user=user))) and time.monotonic() < deadline:
        time.sleep(0.05)
    [record] = records
    assert record.status_code == 499
    assert record.prompt_tokens >= 10_000  # 40,000 characters of description; it was a few tokens


@pytest.mark.parametrize(
    "field",
    [
        {"functions": [{"name": "f", "description": "x" * 9000, "parameters": {"type": "object"}}]},
        {"response_format": {"type": "json_schema", "json_schema": {"name": "s", "description": "x" * 9000}}},
        {"prediction": {"type": "content", "content": "x" * 9000}},
    ],
    ids=["functions", "response_format", "prediction"],
)
def test_the_prompt_size_limit_counts_every_field_the_model_reads(gateway, user, field):
    refused = _post(gateway, user, _chat("hi", **field))

    assert refused.status_code == 400
    assert "the limit is 8000" in refused.json()["error"]["message"]
    assert not UsageRecord.objects.filter(user=user).exists()
