"""The login through the provider driven with plain HTTP (requests), step by step, for the refusal tests."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlparse

import requests


def log_in_at_provider(session: requests.Session, login_url: str, username: str, password: str) -> str:
    """Fill the provider's log-in form at `login_url`; the URL it then redirects to (the authorize step)."""
    page = session.get(login_url, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    next_url = re.search(r'name="next" value="([^"]*)"', page.text).group(1).replace("&amp;", "&")
    response = session.post(
        page.url,
        data={"csrfmiddlewaretoken": token, "username": username, "password": password, "next": next_url},
        headers={"Referer": page.url},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:500]
    return urljoin(page.url, response.headers["Location"])


def callback_url(gateway_url: str, username: str, password: str) -> tuple[requests.Session, str]:
    """Start a login at the gateway and go through the provider; the gateway's callback URL with the code and
    state, not yet visited, and the session (the gateway's cookie and the provider's) that holds its state."""
    session = requests.Session()
    start = session.get(f"{gateway_url}/sso/login/", allow_redirects=False, timeout=10)
    assert start.status_code == 302, start.text[:500]
    authorize = start.headers["Location"]
    at_provider = session.get(authorize, allow_redirects=False, timeout=10)
    if at_provider.status_code == 302 and "/login/" in at_provider.headers["Location"]:
        authorize = log_in_at_provider(session, urljoin(authorize, at_provider.headers["Location"]), username, password)
        at_provider = session.get(authorize, allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text[:500]
    back = at_provider.headers["Location"]
    assert "code" in parse_qs(urlparse(back).query), back
    return session, back
