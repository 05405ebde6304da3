"""JWTs for users: every token carries the user's token version, so that revocation is immediate."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token, UntypedToken

from accounts.models import User

TOKEN_VERSION_CLAIM = "ver"  # noqa: S105  (a claim name, not a secret)


def issue_access_token(user: User) -> AccessToken:
    """A signed access token for `user`, valid for SIMPLE_JWT's ACCESS_TOKEN_LIFETIME."""
    token = AccessToken.for_user(user)
    token[TOKEN_VERSION_CLAIM] = user.token_version
    return token


def user_for_token(token: Token) -> User:
    """The active user a validated token speaks for, or AuthenticationFailed."""
    try:
        user = get_user_model().objects.get(pk=token["user_id"])
    except (KeyError, ValueError, TypeError, get_user_model().DoesNotExist):
        raise AuthenticationFailed(gettext("The user of this token no longer exists."), code="user_not_found") from None
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
    """SimpleJWT's verify, which also calls a token of a revoked, inactive or deleted user invalid."""

    def validate(self, attrs):
        result = super().validate(attrs)
        user_for_token(UntypedToken(attrs["token"]))
        return result


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """SimpleJWT's refresh, which also refuses revoked tokens and deleted users (401, not 500)."""

    def validate(self, attrs):
        user_for_token(self.token_class(attrs["refresh"]))
        return super().validate(attrs)
