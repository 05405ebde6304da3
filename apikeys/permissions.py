from __future__ import annotations

from django.utils.translation import gettext_lazy
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from apikeys.models import APIKey


class NotThroughAnAPIKey(BasePermission):
    """Refuses requests authenticated by an API key: a leaked key must not be able to mint or revoke keys."""

    refuses_api_keys = True  # the schema (core.openapi) then lists no API-key scheme for the view
    message = gettext_lazy("API keys can't manage API keys. Use a token from /api/token/ or log in.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return not isinstance(request.auth, APIKey)
