"""On every API, credentials are checked before content is negotiated, and `Accept: text/event-stream`
alone is served (core/negotiation.py): SSE clients send it, and a wrong key must read as a wrong key."""

from __future__ import annotations

import pytest
import requests

from accounts.tokens import issue_access_token

WRONG_KEY = {"Authorization": "Bearer sk-" + "x" * 48}
REST_PATHS = ["/api/quota/", "/api/usage/", "/api/keys/", "/api/conversations/"]


@pytest.mark.parametrize("path", REST_PATHS)
@pytest.mark.parametrize("accept", ["image/png", "text/event-stream"])
def test_a_wrong_key_is_a_401_whatever_the_accept_header(gateway, path, accept):
    response = requests.get(f"{gateway.url}{path}", headers={**WRONG_KEY, "Accept": accept}, timeout=20)

    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("path", ["/api/quota/", "/api/keys/"])
def test_no_credentials_is_a_401_before_a_406(gateway, path):
    response = requests.get(f"{gateway.url}{path}", headers={"Accept": "image/png"}, timeout=20)

    assert response.status_code == 401


@pytest.mark.parametrize("path", REST_PATHS)
def test_a_client_that_accepts_only_event_streams_gets_json(gateway, user, path):
    headers = {"Authorization": f"Bearer {issue_access_token(user)}", "Accept": "text/event-stream"}

    response = requests.get(f"{gateway.url}{path}", headers=headers, timeout=20)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"


def test_a_known_caller_still_gets_a_406_for_an_accept_nothing_can_answer(gateway, user):
    headers = {"Authorization": f"Bearer {issue_access_token(user)}", "Accept": "image/png"}

    response = requests.get(f"{gateway.url}/api/quota/", headers=headers, timeout=20)

    assert response.status_code == 406


def test_the_original_api_takes_an_event_stream_accept_too(gateway, user):
    headers = {"Authorization": f"Bearer {issue_access_token(user)}", "Accept": "text/event-stream"}

    response = requests.get(f"{gateway.url}/api", params={"q": "hello"}, headers=headers, timeout=20)

    assert response.status_code == 200
    assert response.json()["statu"] is True
