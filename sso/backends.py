"""The OpenID Connect login: mozilla-django-oidc's code flow, with the ID token checked in full."""

from __future__ import annotations

from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts.models import User
from sso import provider
from sso.services import sign_in

LEEWAY_SECONDS = 30  # clocks differ a little between the provider and the gateway


class OIDCBackend(OIDCAuthenticationBackend):
    """Signs in whoever the provider vouches for, through sso.services.sign_in.

    The library checks the state, the nonce and PKCE, and the ID token's signature with the provider's JWKS;
    it does not check the issuer, the audience or that an expiry is there, which _verify_jws adds. Endpoints
    are looked up when needed, not when the backend is made: Django makes one for every session's request.
    """

    OIDC_OP_TOKEN_ENDPOINT = property(lambda self: provider.endpoint("token_endpoint"))
    OIDC_OP_USER_ENDPOINT = property(lambda self: provider.endpoint("userinfo_endpoint"))
    OIDC_OP_JWKS_ENDPOINT = property(lambda self: provider.endpoint("jwks_uri"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.UserModel = get_user_model()

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        # Only the callback view passes a nonce; a password login must not reach the token endpoint.
        if not settings.OIDC_ENABLED or "nonce" not in kwargs:
            return None
        return super().authenticate(request, **kwargs)

    def _verify_jws(self, payload: str, key: Any) -> dict:
        algorithm = jwt.get_unverified_header(payload).get("alg")
        if algorithm != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"the ID token is signed with {algorithm!r}, not {self.OIDC_RP_SIGN_ALGO}")
        try:
            return jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=[settings.OIDC_ISSUER, settings.OIDC_ISSUER + "/"],
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.InvalidTokenError as error:
            raise SuspiciousOperation(f"the ID token was refused: {error}") from error

    def get_userinfo(self, access_token: str, id_token: str, payload: dict) -> dict:
        """The ID token's claims, with what the userinfo endpoint adds (when the provider has one)."""
        if not getattr(settings, "OIDC_OP_USER_ENDPOINT", "") and "userinfo_endpoint" not in provider.discovery():
            return payload
        userinfo = super().get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload["sub"]:  # OpenID Connect Core 1.0, section 5.3.2
            raise SuspiciousOperation("the userinfo endpoint answered for another user")
        return {**userinfo, **payload}

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict) -> User:
        return sign_in(claims=self.get_userinfo(access_token, id_token, payload))

    def verify_claims(self, claims: dict) -> bool:
        return True  # sign_in checks what it needs

    def get_user(self, user_id: int) -> User | None:
        # The library's get_user keeps a deactivated user's session alive; Django's (is_active checked) does not.
        user = super().get_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
