import datetime as dt

import jwt
import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.tokens import issue_access_token
from conftest import used_today
from relay.models import UsageRecord


def ask(user=None, *, token: str | None = None, **params):
    client = Client()
    headers = {}
    if user is not None or token is not None:
        headers["Authorization"] = f"Bearer {token or issue_access_token(user)}"
    return client.get("/api", params, headers=headers)


def test_it_answers_with_the_models_reply_in_the_envelope(user):
    response = ask(user, q="What is 2+2?")

    assert response.status_code == 200
    body = response.json()
    assert body["statu"] is True
    assert "not a real model" in body["message"]
    assert "What is 2+2?" in body["message"]


def test_it_answers_with_a_trailing_slash_too(user):
    response = Client().get("/api/", {"q": "hi"}, headers={"Authorization": f"Bearer {issue_access_token(user)}"})

    assert response.status_code == 200


def test_a_successful_answer_counts_one_request_and_is_recorded(user):
    ask(user, q="hello")

    assert used_today(user) == 1
    record = UsageRecord.objects.get()
    assert (record.user, record.endpoint, record.status_code, record.error) == (user, "chatapi", 200, "")
    assert record.total_tokens > 0


@pytest.mark.parametrize(
    "token",
    [None, "", "not-a-jwt", "Basic abc"],
)
def test_it_refuses_a_missing_or_malformed_token_with_401(user, token):
    headers = {} if token is None else {"Authorization": token if " " in token else f"Bearer {token}"}

    response = Client().get("/api", {"q": "hi"}, headers=headers)

    assert response.status_code == 401
    assert response.json()["statu"] is False
    assert used_today(user) == 0


def test_it_refuses_an_expired_token_with_401(user):
    token = issue_access_token(user)
    with time_machine.travel(timezone.now() + dt.timedelta(days=31)):
        response = ask(token=str(token), q="hi")

    assert response.status_code == 401
    assert "expired" in response.json()["message"]


@pytest.mark.parametrize("key", ["another-key-entirely-0123456789abcdef", ""])
def test_it_refuses_a_token_signed_with_another_key_or_unsigned_with_401(user, key):
    claims = issue_access_token(user).payload
    forged = jwt.encode(claims, key, algorithm="HS256") if key else jwt.encode(claims, None, algorithm="none")

    response = ask(token=forged, q="hi")

    assert response.status_code == 401
    assert response.json() == {
        "statu": False,
        "message": "The token is not valid. Get a new one from /token or /api/token/.",
    }
    assert used_today(user) == 0


def test_it_does_not_take_a_browser_session_instead_of_a_token(client, user):
    """A cross-site link must not spend a logged-in user's quota: /api takes bearer tokens only."""
    client.force_login(user)

    response = client.get("/api", {"q": "hi"})

    assert response.status_code == 401
    assert used_today(user) == 0


def test_it_refuses_a_revoked_token_with_401(user):
    token = issue_access_token(user)
    user.revoke_tokens()

    response = ask(token=str(token), q="hi")

    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


def test_it_refuses_an_inactive_users_token_with_401(user):
    token = issue_access_token(user)
    user.is_active = False
    user.save()

    response = ask(token=str(token), q="hi")

    assert response.status_code == 401
    assert "inactive" in response.json()["message"]


def test_it_refuses_a_deleted_users_token_with_401(user):
    token = issue_access_token(user)
    user.delete()

    response = ask(token=str(token), q="hi")

    assert response.status_code == 401


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"q": ["one", "two"]}])
def test_it_refuses_a_missing_empty_or_repeated_question_with_400_and_charges_nothing(user, params):
    response = ask(user, **params)

    assert response.status_code == 400
    assert response.json()["statu"] is False
    assert "?q=" in response.json()["message"]
    assert used_today(user) == 0


def test_it_refuses_a_question_over_the_length_limit_with_400(user, settings):
    settings.CHATGATEWAY_MAX_PROMPT_CHARS = 20

    at_limit = ask(user, q="x" * 20)
    over = ask(user, q="x" * 21)

    assert at_limit.status_code == 200
    assert over.status_code == 400
    assert "limit is 20" in over.json()["message"]
    assert used_today(user) == 1


def test_the_default_question_limit_is_8000_characters(user):
    assert ask(user, q="x" * 8000).status_code == 200
    assert ask(user, q="x" * 8001).status_code == 400


def test_it_refuses_past_the_daily_limit_with_429_and_retry_after_until_midnight(make_user, settings):
    settings.TIME_ZONE = "Europe/Paris"
    user = make_user(daily_limit=2)
    with time_machine.travel(dt.datetime(2026, 3, 1, 22, 0, tzinfo=dt.UTC), tick=False):  # 23:00 in Paris
        assert ask(user, q="one").status_code == 200
        assert ask(user, q="two").status_code == 200
        response = ask(user, q="three")
        assert used_today(user) == 2

    assert response.status_code == 429
    assert response["Retry-After"] == "3600"
    body = response.json()
    assert body["statu"] is False
    assert "Daily limit of 2 requests reached" in body["message"]
    assert "2026-03-02 00:00" in body["message"]


def test_a_user_with_a_zero_limit_is_told_they_are_blocked_with_403(make_user):
    user = make_user(daily_limit=0)

    response = ask(user, q="hi")

    assert response.status_code == 403
    assert "blocked" in response.json()["message"]


@pytest.mark.parametrize(
    ("fault", "status"),
    [("[dev:status=500]", 502), ("[dev:status=503]", 502), ("[dev:garbage]", 502), ("[dev:drop]", 502)],
)
def test_an_upstream_failure_gives_502_and_costs_nothing(user, fault, status):
    response = ask(user, q=f"hi {fault}")

    assert response.status_code == status
    body = response.json()
    assert body["statu"] is False
    assert "upstream" in body["message"]
    assert used_today(user) == 0
    record = UsageRecord.objects.get()
    assert record.status_code == status
    assert record.error.startswith("upstream_")


def test_an_upstream_timeout_gives_504_and_costs_nothing(user, settings):
    settings.OPENAI_TIMEOUT = 0.3

    response = ask(user, q="hi [dev:delay=1]")

    assert response.status_code == 504
    assert "took too long" in response.json()["message"]
    assert used_today(user) == 0


def test_an_unreachable_upstream_gives_502_and_costs_nothing(user, settings):
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"

    response = ask(user, q="hi")

    assert response.status_code == 502
    assert used_today(user) == 0


def test_a_wrong_upstream_key_gives_502_saying_the_gateway_is_misconfigured_without_the_key(user, settings, caplog):
    settings.OPENAI_API_KEY = "sk-wrong-secret-upstream-key"

    response = ask(user, q="hi")

    assert response.status_code == 502
    assert "misconfigured" in response.json()["message"]
    assert "sk-wrong" not in response.content.decode()
    assert "sk-wrong" not in caplog.text
    assert UsageRecord.objects.get().error == "upstream_auth_401"
    assert used_today(user) == 0


def test_it_never_forwards_the_users_token_upstream(user, dev_upstream):
    token = str(issue_access_token(user))

    ask(token=token, q="who am I?")

    sent = dev_upstream.received[-1]
    assert sent["authorization"] == f"Bearer {dev_upstream.key}"
    assert token not in str(sent)
