"""SimpleJWT's token views, described in the schema with the error bodies the gateway gives."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt import views as jwt_views

from accounts import tokens
from core.openapi import rest_errors

# A valid token is answered with an empty object.
EMPTY_OBJECT = OpenApiResponse({"type": "object", "maxProperties": 0}, description="The token is valid.")


LOGGED_OUT = OpenApiResponse({"type": "object", "maxProperties": 0}, description="The refresh token is revoked.")


def _described(serializer: type[serializers.Serializer], answer: Any = None, *, errors=(400, 401, 413, 415, 503)):
    return extend_schema_view(
        post=extend_schema(
            request=serializer,
            responses={200: answer or serializer, **rest_errors(*errors)},
            tags=["Tokens"],
        )
    )


# A login can be throttled (accounts/login_throttle.py): 429 with Retry-After.
@_described(tokens.TokenObtainPairSerializer, errors=(400, 401, 413, 415, 429, 503))
class TokenObtainPairView(jwt_views.TokenObtainPairView):
    """Log in with a username and password: an access token and a refresh token."""


@_described(tokens.TokenRefreshSerializer)
class TokenRefreshView(jwt_views.TokenRefreshView):
    """A new access token for a refresh token that is still valid and not revoked."""


@_described(tokens.TokenVerifySerializer, EMPTY_OBJECT)
class TokenVerifyView(jwt_views.TokenVerifyView):
    """200 with an empty object when the token is valid and not revoked; 401 when it is not."""


@_described(jwt_serializers.TokenBlacklistSerializer, LOGGED_OUT)
class TokenBlacklistView(jwt_views.TokenBlacklistView):
    """Log out: the refresh token is refused from now on. Access tokens made from it stay valid until they
    expire; an administrator's "revoke all tokens" ends those too."""
