"""A leaked key must not be able to mint new keys, nor list or revoke its owner's."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apikeys.models import APIKey
from apikeys.services import create_api_key


@pytest.fixture
def key_client(user) -> APIClient:
    _, raw_key = create_api_key(user=user, name="laptop")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def test_a_key_cannot_create_keys(key_client):
    response = key_client.post("/api/keys/", {"name": "another"}, format="json")

    assert response.status_code == 403
    assert "API keys can't manage API keys" in response.json()["detail"]
    assert APIKey.objects.count() == 1


def test_a_key_cannot_list_or_revoke_keys(key_client):
    api_key = APIKey.objects.get()

    assert key_client.get("/api/keys/").status_code == 403
    assert key_client.delete(f"/api/keys/{api_key.pk}/").status_code == 403
    assert APIKey.objects.get().revoked is None


def test_anonymous_callers_get_401(db):
    assert APIClient().get("/api/keys/").status_code == 401
    assert APIClient().post("/api/keys/", {"name": "x"}, format="json").status_code == 401


def test_a_logged_in_browser_session_may_manage_keys_with_a_csrf_token(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/login/")  # any page with a form sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value

    assert client.post("/api/keys/", {"name": "x"}, format="json").status_code == 403
    assert client.post("/api/keys/", {"name": "x"}, format="json", HTTP_X_CSRFTOKEN=csrf).status_code == 201
    assert client.get("/api/keys/").status_code == 200
