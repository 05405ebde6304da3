"""JWTs for users: every token carries the user's token version, so that revocation is immediate."""

from __future__ import annotations

import copy

from django.contrib.auth import get_user_model
from django.utils.translation import gettext, gettext_lazy
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token, UntypedToken

from accounts.models import User
from core import access

TOKEN_VERSION_CLAIM = "ver"  # noqa: S105  (a claim name, not a secret)
USER_NOT_FOUND = gettext_lazy("The user of this token no longer exists.")  # also once a request has begun (quota)


def issue_access_token(user: User) -> AccessToken:
    """A signed access token for `user`, valid for SIMPLE_JWT's ACCESS_TOKEN_LIFETIME."""
    token = AccessToken.for_user(user)
    token[TOKEN_VERSION_CLAIM] = user.token_version
    return token


def user_for_token(token: Token) -> User:
    """The active user a validated token speaks for, or AuthenticationFailed."""
    try:
        user_id = int(token["user_id"])
    except (KeyError, ValueError, TypeError):
        raise AuthenticationFailed(str(USER_NOT_FOUND), code="user_not_found") from None
    # From the process's cache (core/access.py), which any change to a user ends at once.
    user = access.cached("user", user_id, lambda: get_user_model().objects.filter(pk=user_id).first())
    if user is None:
        raise AuthenticationFailed(str(USER_NOT_FOUND), code="user_not_found")
    user = copy.copy(user)  # the request's own: the cached one is every request's
    if not user.is_active:
        raise AuthenticationFailed(gettext("This account is inactive."), code="user_inactive")
    if token.get(TOKEN_VERSION_CLAIM) != user.token_version:
        raise AuthenticationFailed(gettext("This token has been revoked; log in again."), code="token_revoked")
    return user


class TokenObtainPairSerializer(jwt_serializers.TokenObtainPairSerializer):
    @classmethod
    def get_token(cls, user: User) -> RefreshToken:
        token = super().get_token(user)
        token[TOKEN_VERSION_CLAIM] = user.token_version
        return token


class TokenVerifySerializer(jwt_serializers.TokenVerifySerializer):
    """SimpleJWT's verify, which also calls invalid a blacklisted (logged out) refresh token and a token of
    a revoked, inactive or deleted user."""

    def validate(self, attrs):
        result = super().validate(attrs)
        token = UntypedToken(attrs["token"])
        if BlacklistedToken.objects.filter(token__jti=token.get("jti")).exists():
            raise TokenError("Token is blacklisted")
        user_for_token(token)
        return result


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """SimpleJWT's refresh, which also refuses revoked tokens and deleted users (401, not 500)."""

    def validate(self, attrs):
        user_for_token(self.token_class(attrs["refresh"]))
        return super().validate(attrs)
