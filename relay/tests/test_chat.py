import time

import pytest
from django.db import OperationalError
from rest_framework.test import APIClient

from conftest import used_today
from relay.models import UsageRecord


def test_it_answers_a_prompt_with_reply_model_usage_and_the_quota_after(api, user, settings):
    response = api.post("/api/chat/", {"prompt": "Name a colour."}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert "Name a colour." in body["reply"]
    assert body["model"] == settings.CHATGATEWAY_MODEL
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert body["quota"]["used_today"] == 1
    assert body["quota"]["remaining"] == 9
    assert body["quota"] == api.get("/api/quota/").json()


def test_it_sends_the_whole_conversation_upstream(api, dev_upstream):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "And again"},
    ]

    response = api.post("/api/chat/", {"messages": messages}, format="json")

    assert response.status_code == 200
    assert "And again" in response.json()["reply"]
    assert dev_upstream.received[-1]["body"]["messages"] == messages


def test_it_uses_an_allowed_model_when_asked(api, settings, dev_upstream):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", "gpt-4o"]

    response = api.post("/api/chat/", {"prompt": "hi", "model": "gpt-4o"}, format="json")

    assert response.json()["model"] == "gpt-4o"
    assert dev_upstream.received[-1]["body"]["model"] == "gpt-4o"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"prompt": "a", "messages": [{"role": "user", "content": "b"}]}, "non_field_errors"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": 42}, "prompt"),
        ({"prompt": "hi", "model": 7}, "model"),
        ({"messages": [{"role": "user", "content": ["x"]}]}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": "hello"}, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages"),
        ({"messages": [{"role": "user"}]}, "messages"),
        ({"prompt": "hi", "model": "gpt-5-ultra"}, "model"),
    ],
)
def test_it_refuses_bad_input_with_a_400_naming_the_field_and_charges_nothing(api, user, body, field):
    response = api.post("/api/chat/", body, format="json")

    assert response.status_code == 400
    if field:
        assert field in response.json()
    assert used_today(user) == 0
    assert not UsageRecord.objects.exists()


def test_it_refuses_a_body_that_is_not_json_with_400(api, user):
    response = api.post("/api/chat/", "{nope", content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": "The request body is not valid JSON."}


def test_it_refuses_prompts_and_conversations_over_the_limits(api, user, settings):
    settings.CHATGATEWAY_MAX_PROMPT_CHARS = 10
    settings.CHATGATEWAY_MAX_MESSAGES = 2
    many = [{"role": "user", "content": "x"}] * 3
    long_conversation = [{"role": "user", "content": "xxxxxx"}, {"role": "user", "content": "xxxxxx"}]

    assert api.post("/api/chat/", {"prompt": "x" * 11}, format="json").status_code == 400
    assert api.post("/api/chat/", {"messages": many}, format="json").status_code == 400
    assert api.post("/api/chat/", {"messages": long_conversation}, format="json").status_code == 400
    assert used_today(user) == 0


def test_a_user_whose_limit_is_zero_is_told_they_are_blocked_with_403(api, user):
    user.quota.daily_limit = 0
    user.quota.save()

    response = api.post("/api/chat/", {"prompt": "hi"}, format="json")

    assert response.status_code == 403
    assert "blocked" in response.json()["detail"]
    assert "Retry-After" not in response


def test_it_refuses_an_anonymous_caller_with_401(db):
    response = APIClient().post("/api/chat/", {"prompt": "hi"}, format="json")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_it_refuses_past_the_daily_limit_with_429_and_retry_after(api, user):
    user.quota.daily_limit = 1
    user.quota.save()
    api.post("/api/chat/", {"prompt": "one"}, format="json")

    response = api.post("/api/chat/", {"prompt": "two"}, format="json")

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Daily limit of 1 requests reached" in response.json()["detail"]


@pytest.mark.parametrize(
    ("fault", "status"),
    [("[dev:status=500]", 502), ("[dev:status=401]", 502), ("[dev:garbage]", 502), ("[dev:status=429]", 503)],
)
def test_an_upstream_failure_gives_a_5xx_in_drf_shape_and_costs_nothing(api, user, fault, status):
    response = api.post("/api/chat/", {"prompt": f"hi {fault}"}, format="json")

    assert response.status_code == status
    assert set(response.json()) == {"detail"}
    assert used_today(user) == 0


def test_an_upstream_rate_limit_passes_on_its_retry_after(api):
    response = api.post("/api/chat/", {"prompt": "hi [dev:status=429]"}, format="json")

    assert response.status_code == 503
    assert response["Retry-After"] == "7"


def test_an_upstream_not_found_gives_502_without_the_upstreams_words(api, user):
    response = api.post("/api/chat/", {"prompt": "hi [dev:status=404]"}, format="json")

    assert response.status_code == 502
    assert "Simulated" not in response.content.decode()
    assert used_today(user) == 0


@pytest.mark.parametrize("status", [400, 422])
def test_an_upstream_refusing_the_request_itself_gives_400_with_its_reason(api, user, status):
    """A prompt too long for the model's context, a parameter it does not take: the client's to fix."""
    response = api.post("/api/chat/", {"prompt": f"hi [dev:status={status}]"}, format="json")

    assert response.status_code == 400
    assert (
        response.json()["detail"]
        == f"The upstream model service refused the request. Simulated upstream failure {status}."
    )
    assert used_today(user) == 0


def test_an_upstream_timeout_gives_504(api, user, settings):
    settings.OPENAI_TIMEOUT = 0.3

    response = api.post("/api/chat/", {"prompt": "hi [dev:delay=1]"}, format="json")

    assert response.status_code == 504
    assert used_today(user) == 0


def test_the_browsable_api_renders_for_a_logged_in_user(client, user):
    client.force_login(user)

    response = client.get("/api/chat/", headers={"Accept": "text/html"})

    assert response.status_code == 405  # GET is not allowed, but the page still renders the POST form
    assert b"Chat" in response.content


def test_a_passing_upstream_failure_is_retried_and_answered(api, user, settings):
    settings.OPENAI_MAX_RETRIES = 2

    response = api.post("/api/chat/", {"prompt": "once more [dev:flaky=2]"}, format="json")

    assert response.status_code == 200
    assert used_today(user) == 1


def test_the_timeout_bounds_the_whole_wait_retries_included(api, user, settings):
    settings.OPENAI_TIMEOUT = 0.5
    settings.OPENAI_MAX_RETRIES = 3
    started = time.monotonic()

    response = api.post("/api/chat/", {"prompt": "slow [dev:delay=3]"}, format="json")

    assert response.status_code == 504
    assert time.monotonic() - started < 2.5  # one full timeout per attempt would be 2 s; the upstream takes 3


def test_it_retries_a_failing_upstream_as_many_times_as_configured(api, user, settings, dev_upstream):
    settings.OPENAI_MAX_RETRIES = 1
    before = dev_upstream.received_count

    response = api.post("/api/chat/", {"prompt": "hi [dev:status=500]"}, format="json")

    assert response.status_code == 502
    assert dev_upstream.received_count - before == 2
    assert used_today(user) == 0


def test_an_answer_is_delivered_even_if_its_usage_record_cannot_be_written(api, user, monkeypatch):
    def database_gone(**fields):
        raise OperationalError("server closed the connection")

    monkeypatch.setattr(UsageRecord, "insert", database_gone)  # the relay's write of a record
    monkeypatch.setattr(UsageRecord.objects, "create", database_gone)  # the outbox's

    response = api.post("/api/chat/", {"prompt": "hi"}, format="json")

    assert response.status_code == 200
    assert used_today(user) == 1


def test_the_browsable_api_offers_a_login_page(client, db):
    response = client.get("/api-auth/login/")

    assert response.status_code == 200
    assert b"password" in response.content
