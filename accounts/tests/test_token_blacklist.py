"""`POST /api/token/blacklist/` logs a refresh token out: it can no longer be refreshed."""

from __future__ import annotations

from django.test import Client
from rest_framework.test import APIClient

from conftest import PASSWORD


def tokens(username: str = "ada") -> dict:
    body = {"username": username, "password": PASSWORD}
    return APIClient().post("/api/token/", body, format="json").json()


def blacklist(refresh: str, client: Client | None = None):
    return (client or Client()).post("/api/token/blacklist/", {"refresh": refresh}, content_type="application/json")


def refresh_with(refresh: str):
    return Client().post("/api/token/refresh/", {"refresh": refresh}, content_type="application/json")


def test_a_blacklisted_refresh_token_can_no_longer_be_refreshed(user):
    pair = tokens()
    assert refresh_with(pair["refresh"]).status_code == 200

    response = blacklist(pair["refresh"])

    assert response.status_code == 200
    refused = refresh_with(pair["refresh"])
    assert refused.status_code == 401
    assert refused.json()["detail"] == "The token is not valid. Get a new one from /token or /api/token/."


def test_other_refresh_tokens_of_the_user_still_work(user):
    phone, laptop = tokens(), tokens()

    blacklist(phone["refresh"])

    assert refresh_with(laptop["refresh"]).status_code == 200


def test_a_refresh_token_cannot_be_blacklisted_twice_or_verified_after(user):
    pair = tokens()
    blacklist(pair["refresh"])

    assert blacklist(pair["refresh"]).status_code == 401
    verify = Client().post("/api/token/verify/", {"token": pair["refresh"]}, content_type="application/json")
    assert verify.status_code == 401


def test_it_needs_no_csrf_token_even_beside_a_browser_session(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    assert blacklist(tokens()["refresh"], client).status_code == 200


def test_it_refuses_garbage_and_a_missing_token(user):
    assert blacklist("garbage").status_code == 401
    missing = Client().post("/api/token/blacklist/", {}, content_type="application/json")
    assert missing.status_code == 400
    assert missing.json() == {"refresh": ["This field is required."]}


def test_it_refuses_an_access_token(user):
    assert blacklist(tokens()["access"]).status_code == 401


def test_access_tokens_already_issued_stay_valid_until_they_expire(user):
    """As documented: blacklisting ends the refresh token; to end every token at once, revoke them all."""
    pair = tokens()
    blacklist(pair["refresh"])
    headers = {"Authorization": f"Bearer {pair['access']}"}

    assert Client().get("/api/quota/", headers=headers).status_code == 200
    user.revoke_tokens()
    assert Client().get("/api/quota/", headers=headers).status_code == 401
