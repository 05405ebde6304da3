"""CORS on `/v1`, over real HTTP (both lanes run it: core/cors.py): a browser application on an origin of
CHATGATEWAY_CORS_ALLOWED_ORIGINS may call with a key (bearer credentials only, never cookies); any other
origin, and any path outside `/v1/`, gets no CORS headers."""

from __future__ import annotations

import pytest
import requests

from accounts.tokens import issue_access_token

ALLOWED = "https://app.example.org"
PREFLIGHT = {
    "Origin": ALLOWED,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@pytest.fixture(autouse=True)
def allowed_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED]


def test_a_preflight_from_an_allowed_origin_gets_200_and_the_headers_without_credentials(gateway):
    response = requests.options(f"{gateway.url}/v1/chat/completions", headers=PREFLIGHT, timeout=10)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    allowed_headers = response.headers["Access-Control-Allow-Headers"].split(", ")
    assert {"authorization", "content-type", "x-chatgateway-team"} <= set(allowed_headers)
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("path", ["/v1/embeddings", "/v1/completions", "/v1/models"])
def test_a_preflight_is_answered_on_every_v1_endpoint(gateway, path):
    response = requests.options(f"{gateway.url}{path}", headers=PREFLIGHT, timeout=10)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_a_preflight_from_another_origin_gets_no_cors_headers(gateway):
    headers = {**PREFLIGHT, "Origin": "https://evil.example.com"}

    response = requests.options(f"{gateway.url}/v1/chat/completions", headers=headers, timeout=10)

    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


def test_no_origin_is_allowed_by_default(gateway, settings):
    settings.CORS_ALLOWED_ORIGINS = []

    response = requests.options(f"{gateway.url}/v1/chat/completions", headers=PREFLIGHT, timeout=10)

    assert "Access-Control-Allow-Origin" not in response.headers


def test_an_answer_to_an_allowed_origin_lets_the_browser_read_it_and_its_rate_limit_headers(gateway, user):
    response = requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Origin": ALLOWED, "Authorization": f"Bearer {issue_access_token(user)}"},
        timeout=20,
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    exposed = response.headers["Access-Control-Expose-Headers"].split(", ")
    assert {
        "x-ratelimit-remaining-requests",
        "x-request-id",
        "x-ratelimit-remaining-cost",
        "x-chatgateway-limit",
    } <= set(exposed)


def test_an_error_to_an_allowed_origin_carries_the_headers_too(gateway):
    response = requests.post(f"{gateway.url}/v1/chat/completions", json={}, headers={"Origin": ALLOWED}, timeout=10)

    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


@pytest.mark.parametrize("path", ["/api/quota/", "/api/chat/", "/token", "/admin/login/"])
def test_paths_outside_v1_get_no_cors_headers(gateway, path):
    response = requests.options(f"{gateway.url}{path}", headers=PREFLIGHT, timeout=10)

    assert "Access-Control-Allow-Origin" not in response.headers
