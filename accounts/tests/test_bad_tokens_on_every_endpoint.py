"""A token that is forged (`alg: none`, another key), expired, revoked, or of a user who is inactive or
no longer exists gets 401 on every endpoint family that takes one (/api, /api/…, /v1), in that family's
error shape, and costs nothing."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest
import requests
from django.conf import settings

from accounts.tokens import issue_access_token
from conftest import used_today
from relay.models import UsageRecord

ENDPOINTS = [
    ("GET", "/api?q=hi", None),
    ("POST", "/api/chat/", {"prompt": "hi"}),
    ("GET", "/api/quota/", None),
    ("GET", "/api/usage/", None),
    ("GET", "/api/keys/", None),
    ("GET", "/api/conversations/", None),
    ("GET", "/v1/models", None),
    ("POST", "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
]


def unsigned(user) -> str:
    return jwt.encode(issue_access_token(user).payload, None, algorithm="none")


def signed_with_another_key(user) -> str:
    return jwt.encode(issue_access_token(user).payload, "another-key-entirely-0123456789abcdef", algorithm="HS256")


def expired(user) -> str:
    claims = {**issue_access_token(user).payload, "exp": int(dt.datetime.now(tz=dt.UTC).timestamp()) - 1}
    return jwt.encode(claims, settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")


def revoked(user) -> str:
    token = str(issue_access_token(user))
    user.revoke_tokens()
    return token


def of_an_inactive_user(user) -> str:
    token = str(issue_access_token(user))
    user.is_active = False
    user.save()
    return token


def of_a_deleted_user(user) -> str:
    token = str(issue_access_token(user))
    user.delete()
    return token


def message_of(path: str, body: dict) -> str:
    if path.startswith("/v1/"):
        assert body["error"]["code"] == "invalid_api_key"
        return body["error"]["message"]
    if path.startswith("/api?"):
        assert body["statu"] is False
        return body["message"]
    return body["detail"]


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (unsigned, "not valid"),
        (signed_with_another_key, "not valid"),
        (expired, "expired"),
        (revoked, "revoked"),
        (of_an_inactive_user, "inactive"),
        (of_a_deleted_user, "no longer exists"),
    ],
)
def test_every_endpoint_refuses_it_with_401(gateway, user, spoil, says):
    deleted = spoil is of_a_deleted_user
    token = spoil(user)

    for method, path, body in ENDPOINTS:
        response = requests.request(
            method, f"{gateway.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=20
        )

        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), path
        assert says in message_of(path, response.json()), path
    assert not UsageRecord.objects.exists()
    assert deleted or used_today(user) == 0
