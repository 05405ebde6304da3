"""How the schema (/api/schema/) describes the accounts' credentials and token serializers."""

from __future__ import annotations

from drf_spectacular.contrib import rest_framework_simplejwt as jwt_schema

from core.openapi import BearerScheme


class JWTScheme(BearerScheme):
    target_class = "accounts.authentication.JWTAuthentication"
    name = "jwtAuth"
    bearer_format = "JWT"
    description = "`Authorization: Bearer <token>`, a token from `/token` or `/api/token/`."


# SimpleJWT's serializers as drf-spectacular describes them, for the gateway's subclasses of them
# (which add revocation checks, not fields).
class TokenObtainPairExtension(jwt_schema.TokenObtainPairSerializerExtension):
    target_class = "accounts.tokens.TokenObtainPairSerializer"


class TokenRefreshExtension(jwt_schema.TokenRefreshSerializerExtension):
    target_class = "accounts.tokens.TokenRefreshSerializer"


class TokenVerifyExtension(jwt_schema.TokenVerifySerializerExtension):
    target_class = "accounts.tokens.TokenVerifySerializer"
