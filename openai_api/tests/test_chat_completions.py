"""`POST /v1/chat/completions`, not streamed, through the official SDK over real HTTP."""

from __future__ import annotations

import requests

from accounts.tokens import issue_access_token
from conftest import used_today
from relay.models import UsageRecord


def test_it_answers_the_official_sdk_with_the_upstreams_completion(sdk, user):
    completion = sdk().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}])

    assert completion.id.startswith("chatcmpl-dev-")
    assert completion.choices[0].message.content.endswith("You said: Hello")
    assert completion.usage.total_tokens > 0
    # The SDK's request id is the gateway's (core/requestid.py), which its usage record and the upstream have too.
    assert completion._request_id == UsageRecord.objects.get(user=user).request_id
    assert used_today(user) == 1


def test_it_returns_the_upstreams_body_byte_for_byte(gateway, user, dev_upstream):
    response = requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
        headers={"Authorization": f"Bearer {issue_access_token(user)}"},
        timeout=10,
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"id", "object", "created", "model", "choices", "usage"}
    assert body["object"] == "chat.completion"


def test_it_passes_every_standard_parameter_through(sdk, dev_upstream):
    tool = {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
    sdk().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        temperature=0.2,
        top_p=0.9,
        max_tokens=50,
        max_completion_tokens=40,
        stop=["\n\n"],
        n=1,
        presence_penalty=0.1,
        frequency_penalty=0.3,
        seed=7,
        response_format={"type": "text"},
        tools=[tool],
        tool_choice="auto",
        user="end-user-42",
        extra_body={"logit_bias": {"50256": -100}},
    )

    sent = dev_upstream.received[-1]["body"]
    assert sent["temperature"] == 0.2
    assert sent["top_p"] == 0.9
    assert sent["max_tokens"] == 50
    assert sent["max_completion_tokens"] == 40
    assert sent["stop"] == ["\n\n"]
    assert sent["n"] == 1
    assert sent["presence_penalty"] == 0.1
    assert sent["frequency_penalty"] == 0.3
    assert sent["seed"] == 7
    assert sent["response_format"] == {"type": "text"}
    assert sent["tools"] == [tool]
    assert sent["tool_choice"] == "auto"
    assert sent["user"] == "end-user-42"
    assert sent["logit_bias"] == {"50256": -100}
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}


def test_it_never_forwards_the_callers_credential_upstream(sdk, user, dev_upstream):
    token = str(issue_access_token(user))
    sdk(token).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])

    assert dev_upstream.received[-1]["authorization"] == f"Bearer {dev_upstream.key}"
    assert token not in str(dev_upstream.received[-1])


def test_it_records_the_attempt(sdk, user):
    sdk().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi there"}])

    record = UsageRecord.objects.get(user=user)
    assert record.endpoint == UsageRecord.Endpoint.V1
    assert record.status_code == 200
    assert record.stream is False
    assert record.api_key is None
    assert record.total_tokens > 0
    assert record.upstream_request_id.startswith("req-dev-")


def test_it_takes_content_parts_and_tool_messages(sdk, dev_upstream):
    completion = sdk().chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "What time is it?"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "now", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "12:00"},
        ],
    )

    assert completion.choices
    assert dev_upstream.received[-1]["body"]["messages"][1]["tool_calls"][0]["id"] == "call_1"
