"""Every failure of `/v1` in OpenAI's error shape and status codes, so the SDK raises its own classes;
none of them costs the user anything."""

from __future__ import annotations

import openai
import pytest
import requests

from accounts.tokens import issue_access_token
from conftest import used_today
from relay.models import UsageRecord

HELLO = [{"role": "user", "content": "Hello"}]


def _post(gateway, user, body, path="/v1/chat/completions"):
    headers = {"Authorization": f"Bearer {issue_access_token(user)}"}
    return requests.post(f"{gateway.url}{path}", json=body, headers=headers, timeout=20)


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


@pytest.mark.parametrize("credential", ["not-a-jwt", "sk-" + "x" * 48])
def test_it_refuses_a_wrong_credential_with_401(gateway, credential):
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=credential, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"


def test_it_refuses_a_request_without_credentials_with_401(gateway):
    response = requests.post(
        f"{gateway.url}/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": HELLO}, timeout=10
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert _error(response)["code"] == "invalid_api_key"


def test_it_refuses_an_inactive_users_token_with_401(sdk, user):
    client = sdk()
    user.is_active = False
    user.save()

    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)


def test_it_answers_a_model_it_does_not_offer_with_404_model_not_found(sdk, user):
    with pytest.raises(openai.NotFoundError) as caught:
        sdk().chat.completions.create(model="gpt-5-ultra", messages=HELLO)

    assert caught.value.code == "model_not_found"
    assert "gpt-5-ultra" in caught.value.message
    assert used_today(user) == 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HELLO}, "model"),
        ({"model": "gpt-4o-mini"}, "messages"),
        ({"model": "gpt-4o-mini", "messages": []}, "messages"),
        ({"model": "gpt-4o-mini", "messages": "Hello"}, "messages"),
        ({"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "Hi"}]}, "messages.0.role"),
        ({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": 42}]}, "messages.0.content"),
        ({"model": "gpt-4o-mini", "messages": HELLO, "stream": "yes"}, "stream"),
        ({"model": 7, "messages": HELLO}, "model"),
        (["not", "an", "object"], None),
    ],
)
def test_it_answers_a_malformed_request_with_400_and_charges_nothing(gateway, user, body, param):
    response = _post(gateway, user, body)

    assert response.status_code == 400
    error = _error(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert used_today(user) == 0


def test_it_refuses_a_prompt_over_the_limit_with_400(gateway, user, settings):
    settings.CHATGATEWAY_MAX_PROMPT_CHARS = 100
    response = _post(gateway, user, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 101}]})

    assert response.status_code == 400
    assert "limit is 100" in _error(response)["message"]


def test_it_refuses_a_body_that_is_not_json_with_400(gateway, user):
    response = requests.post(
        f"{gateway.url}/v1/chat/completions",
        data=b'{"model": ',
        headers={"Authorization": f"Bearer {issue_access_token(user)}", "Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 400
    assert _error(response)["code"] == "parse_error"


def test_it_answers_the_daily_limit_with_429_and_retry_after(sdk, make_user, gateway):
    limited = make_user("lim", daily_limit=1)
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=str(issue_access_token(limited)), max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    headers = caught.value.response.headers
    assert int(headers["Retry-After"]) > 0
    assert headers["x-should-retry"] == "false", "the SDK must not retry a limit that lasts until midnight"
    assert caught.value.code == "daily_limit_reached"
    assert used_today(limited) == 1


@pytest.mark.parametrize(
    ("directive", "status", "error_class"),
    [
        ("[dev:status=500]", 502, openai.InternalServerError),
        ("[dev:status=503]", 502, openai.InternalServerError),
        ("[dev:status=429]", 503, openai.InternalServerError),
        ("[dev:status=401]", 502, openai.InternalServerError),
        ("[dev:garbage]", 502, openai.InternalServerError),
        ("[dev:drop]", 502, openai.InternalServerError),
        ("[dev:delay=2]", 504, openai.InternalServerError),
    ],
)
def test_it_answers_an_upstream_failure_with_5xx_and_charges_nothing(
    sdk, user, settings, directive, status, error_class
):
    settings.OPENAI_TIMEOUT = 1.0
    with pytest.raises(error_class) as caught:
        sdk().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": directive}])

    assert caught.value.status_code == status
    assert caught.value.type == "server_error"
    assert used_today(user) == 0
    assert UsageRecord.objects.get(user=user).status_code == status


def test_it_passes_on_the_upstreams_reason_for_refusing_a_request_as_400(sdk, user):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "[dev:status=400]"}])

    assert "Simulated upstream failure 400" in caught.value.message
    assert used_today(user) == 0


def test_it_answers_a_misconfigured_upstream_key_without_showing_it(gateway, user, settings):
    settings.OPENAI_API_KEY = "sk-the-wrong-upstream-key"
    response = _post(gateway, user, {"model": "gpt-4o-mini", "messages": HELLO})

    assert response.status_code == 502
    assert "misconfigured" in _error(response)["message"]
    assert response.headers["x-should-retry"] == "false"
    assert "sk-the-wrong-upstream-key" not in response.text
    assert UsageRecord.objects.get(user=user).error == "upstream_auth_401"


def test_it_refuses_other_content_types_with_415(gateway, user):
    response = requests.post(
        f"{gateway.url}/v1/chat/completions",
        data={"model": "gpt-4o-mini"},
        headers={"Authorization": f"Bearer {issue_access_token(user)}"},
        timeout=10,
    )

    assert response.status_code == 415
    assert _error(response)["type"] == "invalid_request_error"


def test_it_takes_a_trailing_slash(gateway, user):
    response = _post(gateway, user, {"model": "gpt-4o-mini", "messages": HELLO}, path="/v1/chat/completions/")

    assert response.status_code == 200


def test_it_answers_an_endpoint_it_does_not_offer_with_openais_404(gateway, user):
    response = _post(gateway, user, {"model": "dall-e-3", "prompt": "a cat"}, path="/v1/images/generations")

    assert response.status_code == 404
    assert _error(response)["code"] == "unknown_url"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_it_refuses_numbers_json_does_not_have_with_400(gateway, user, number):
    response = requests.post(
        f"{gateway.url}/v1/chat/completions",
        data=f'{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "x"}}], "temperature": {number}}}',
        headers={"Authorization": f"Bearer {issue_access_token(user)}", "Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 400
    assert _error(response)["code"] == "parse_error"
    assert used_today(user) == 0


def test_it_checks_the_model_exactly_as_it_will_send_it(gateway, user):
    response = _post(gateway, user, {"model": " gpt-4o-mini ", "messages": HELLO})

    assert response.status_code == 404
    assert _error(response)["code"] == "model_not_found"


@pytest.mark.parametrize(
    "extra",
    [
        {"messages": [{"role": "assistant", "content": None, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "x" * 200}}]}]},
        {"messages": [{"role": "user", "content": [{"type": "input_text", "input_text": "x" * 200}]}]},
        {"tools": [{"type": "function", "function": {"name": "f", "description": "x" * 200}}]},
    ],
)  # fmt: skip
def test_every_string_the_model_reads_counts_towards_the_prompt_limit(gateway, user, settings, extra):
    settings.CHATGATEWAY_MAX_PROMPT_CHARS = 100
    body = {"model": "gpt-4o-mini", "messages": HELLO, **extra}

    response = _post(gateway, user, body)

    assert response.status_code == 400
    assert "limit is 100" in _error(response)["message"]


def test_an_image_part_does_not_count_as_prompt_text(gateway, user, settings):
    settings.CHATGATEWAY_MAX_PROMPT_CHARS = 100
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 5000}}
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What?"}, image]}],
    }

    assert _post(gateway, user, body).status_code == 200


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"stream": True, "stream_options": {"include_usage": "no"}}, "stream_options.include_usage"), ({"n": 9}, "n")],
)
def test_it_refuses_stream_options_and_n_of_the_wrong_kind(gateway, user, extra, param):
    response = _post(gateway, user, {"model": "gpt-4o-mini", "messages": HELLO, **extra})

    assert response.status_code == 400
    assert _error(response)["param"] == param
