"""The OpenID Connect provider's endpoints: from settings, or else from its discovery document, fetched once."""

from __future__ import annotations

import threading

import requests
from django.conf import settings

SETTING_OF = {
    "authorization_endpoint": "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "token_endpoint": "OIDC_OP_TOKEN_ENDPOINT",
    "userinfo_endpoint": "OIDC_OP_USER_ENDPOINT",
    "jwks_uri": "OIDC_OP_JWKS_ENDPOINT",
}

_discovered: dict[str, dict] = {}  # issuer -> its discovery document
_lock = threading.Lock()


class ProviderUnavailable(Exception):
    """The provider could not be reached, or answered something that is not its discovery document."""


def endpoint(name: str) -> str:
    """The URL of one of the provider's endpoints (a key of SETTING_OF)."""
    configured = getattr(settings, SETTING_OF[name], "")
    if configured:
        return configured
    url = discovery().get(name)
    if not isinstance(url, str) or not url:
        raise ProviderUnavailable(f"the provider's discovery document names no {name}")
    return url


def discovery() -> dict:
    """{OIDC_ISSUER}/.well-known/openid-configuration, kept once read (a failed read is tried again next time)."""
    issuer = settings.OIDC_ISSUER
    with _lock:
        if issuer not in _discovered:
            _discovered[issuer] = _fetch(issuer)
        return _discovered[issuer]


def _fetch(issuer: str) -> dict:
    try:
        response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(f"discovery failed: {error}") from error
    # OpenID Connect Discovery 1.0, section 4.3: the document must name the issuer it was asked for.
    if not isinstance(document, dict) or document.get("issuer", "").rstrip("/") != issuer:
        raise ProviderUnavailable(f"the discovery document at {issuer} is for another issuer")
    return document


def forget() -> None:
    """Drop what discovery read (tests, or a provider that moved its endpoints)."""
    with _lock:
        _discovered.clear()
