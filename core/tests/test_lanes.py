"""The relay's lane (core/lanes.py): /v1/… and /api skip Django's middleware chain, and must
still answer as the other lane does where a client could tell."""

from __future__ import annotations

import requests


def test_it_keeps_the_security_headers_of_the_other_lane(gateway, user):
    relay = requests.get(f"{gateway.url}/v1/models", timeout=10)
    usual = requests.get(f"{gateway.url}/api/quota/", timeout=10)

    for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy"):
        assert relay.headers.get(name) == usual.headers.get(name), name


def test_it_refuses_a_host_that_is_not_allowed_as_the_other_lane_does(gateway):
    relay = requests.get(f"{gateway.url}/v1/models", headers={"Host": "evil.example"}, timeout=10)
    usual = requests.get(f"{gateway.url}/api/quota/", headers={"Host": "evil.example"}, timeout=10)

    assert relay.status_code == usual.status_code == 400


def test_v1_without_its_slash_is_redirected_by_the_other_lane(gateway):
    response = requests.get(f"{gateway.url}/v1", allow_redirects=False, timeout=10)

    assert response.status_code == 301
    assert response.headers["Location"] == "/v1/"
