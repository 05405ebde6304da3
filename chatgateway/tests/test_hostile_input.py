"""Input that is valid HTTP but hostile or odd gets a clear 4xx, costs nothing, and leaves no trace."""

import pytest
from django.test import Client

from accounts.tokens import issue_access_token
from conftest import PASSWORD, used_today
from relay.models import UsageRecord


@pytest.fixture
def bearer(user) -> dict:
    return {"Authorization": f"Bearer {issue_access_token(user)}"}


@pytest.mark.parametrize(
    "body",
    [
        '{"prompt": "\\ud800"}',
        '{"messages": [{"role": "user", "content": "ok"}, {"role": "\\ud800", "content": "x"}]}',
        '{"prompt": "a", "prompt": "b"}',
        "[" * 100_000,
    ],
    ids=["lone-surrogate", "lone-surrogate-in-a-later-message", "duplicate-key", "deep-nesting"],
)
@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_the_chat_api_refuses_json_it_cannot_use_with_400(user, bearer, body, accept):
    response = Client().post("/api/chat/", body, content_type="application/json", headers={**bearer, "Accept": accept})

    assert response.status_code == 400
    assert used_today(user) == 0
    assert not UsageRecord.objects.exists()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/token", '{"u": "\\ud800", "p": "x"}'),
        ("/token", '{"u": "ada", "u": "bob", "p": "x"}'),
        ("/token", "[" * 100_000),
        ("/api/token/", '{"username": "\\ud800", "password": "x"}'),
    ],
)
@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_the_token_endpoints_refuse_json_they_cannot_use_with_400(user, path, body, accept):
    response = Client().post(path, body, content_type="application/json", headers={"Accept": accept})

    assert response.status_code == 400


def test_a_body_over_the_limit_gets_413(user, bearer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = '{"prompt": "' + "x" * 20_000 + '"}'

    chat = Client().post("/api/chat/", body, content_type="application/json", headers=bearer)
    token = Client().post("/token", '{"u": "' + "x" * 20_000 + '", "p": "x"}', content_type="application/json")

    assert chat.status_code == 413
    assert "limit is 9 KiB" in chat.json()["detail"]
    assert token.status_code == 413
    assert token.json()["statu"] is False
    assert used_today(user) == 0


def test_too_many_query_fields_get_400(user, bearer):
    query = "&".join(f"k{i}=v" for i in range(2000)) + "&q=hi"

    response = Client().get(f"/api?{query}", headers=bearer)

    assert response.status_code == 400
    assert response.json()["statu"] is False
    assert used_today(user) == 0


def test_the_chat_api_takes_json_only_so_a_repeated_form_field_cannot_slip_through(user, bearer):
    response = Client().post(
        "/api/chat/", "prompt=hi&prompt=yo", content_type="application/x-www-form-urlencoded", headers=bearer
    )

    assert response.status_code == 415
    assert used_today(user) == 0


def test_head_on_api_is_refused_and_costs_nothing(user, bearer):
    response = Client().head("/api", {"q": "hi"}, headers=bearer)

    assert response.status_code == 405
    assert used_today(user) == 0


@pytest.mark.parametrize("user_id", ["abc", [2], None])
def test_a_signed_token_with_a_nonsense_user_id_gets_401(user, user_id):
    token = issue_access_token(user)
    token["user_id"] = user_id

    response = Client().get("/api", {"q": "hi"}, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401


def test_an_invalid_token_gets_401_with_www_authenticate_and_a_plain_message(user):
    response = Client().get("/api", {"q": "hi"}, headers={"Authorization": "Bearer garbage"})

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["message"] == "The token is not valid. Get a new one from /token or /api/token/."


def test_a_malformed_authorization_header_gets_a_plain_message(user):
    response = Client().get("/api", {"q": "hi"}, headers={"Authorization": "Bearer a b"})

    assert response.status_code == 401
    assert response.json()["message"] == "Authorization header must contain two space-delimited values"


def test_the_bearer_scheme_is_case_insensitive(user):
    token = issue_access_token(user)

    response = Client().get("/api", {"q": "hi"}, headers={"Authorization": f"bearer {token}"})

    assert response.status_code == 200


def test_an_invalid_role_is_named_plainly(user, bearer):
    body = '{"messages": [{"role": ["user"], "content": "x"}]}'

    response = Client().post("/api/chat/", body, content_type="application/json", headers=bearer)

    assert response.json() == {"messages": {"0": {"role": ["Must be one of: system, user, assistant."]}}}


def test_healthz_answers_head_and_refuses_post_with_405(db):
    assert Client().head("/healthz").status_code == 200
    assert Client(enforce_csrf_checks=True).post("/healthz").status_code == 405


def test_login_still_works_with_the_strict_parser(user):
    response = Client().post("/token", {"u": "ada", "p": PASSWORD}, content_type="application/json")

    assert response.status_code == 201
