"""Domain errors of API keys; core.errors turns them into HTTP responses."""

from __future__ import annotations

from django.utils.translation import gettext

from core.errors import ApplicationError


class TooManyAPIKeys(ApplicationError):
    """The user already holds as many usable keys as CHATGATEWAY_MAX_API_KEYS_PER_USER allows: a 400."""

    code = "too_many_api_keys"

    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        self.message = gettext(
            "You already have {limit} active API keys, the most allowed. Revoke one you no longer use first."
        ).format(limit=limit)
        super().__init__(self.message)
