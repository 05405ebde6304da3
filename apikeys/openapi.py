"""How the schema (/api/schema/) describes an API key as a credential."""

from __future__ import annotations

from typing import Any

from core.openapi import BearerScheme


class APIKeyScheme(BearerScheme):
    target_class = "apikeys.authentication.APIKeyAuthentication"
    name = "apiKeyAuth"
    bearer_format = "sk-…"
    description = "`Authorization: Bearer sk-…`, an API key made at `/api/keys/`."

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list] | None:
        # Views that refuse API keys (managing keys) run the class only to say so: not a way in.
        if any(getattr(permission, "refuses_api_keys", False) for permission in auto_schema.view.get_permissions()):
            return None
        return {self.name: []}
