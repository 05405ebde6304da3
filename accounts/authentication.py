from __future__ import annotations

from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.tokens import Token

from accounts.models import User
from accounts.tokens import user_for_token


class JWTAuthentication(authentication.JWTAuthentication):
    """SimpleJWT's bearer authentication, refusing revoked tokens and inactive or deleted users."""

    def get_user(self, validated_token: Token) -> User:
        return user_for_token(validated_token)
