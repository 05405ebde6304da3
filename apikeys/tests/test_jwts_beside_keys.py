from __future__ import annotations

from rest_framework.test import APIClient

from apikeys.services import create_api_key
from apikeys.tests.helpers import quota_with
from core.errors import TOKEN_INVALID


def test_a_jwt_still_authenticates_beside_a_key(user, api):
    _, raw_key = create_api_key(user=user, name="laptop")

    assert api.get("/api/quota/").status_code == 200
    assert quota_with(raw_key).status_code == 200


def test_a_bad_jwt_still_gets_the_jwt_message(db):
    response = quota_with("eyJhbGciOiJIUzI1NiJ9.bad.token")

    assert response.status_code == 401
    assert response.json()["detail"] == TOKEN_INVALID


def test_a_request_without_credentials_still_gets_401_with_a_bearer_challenge(db):
    response = APIClient().get("/api/quota/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
