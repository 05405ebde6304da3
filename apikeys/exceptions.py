"""Domain errors of API keys; chatgateway.exceptions turns them into HTTP responses."""

from __future__ import annotations

from django.utils.translation import gettext


class TooManyAPIKeys(Exception):
    """The user already holds as many usable keys as CHATGATEWAY_MAX_API_KEYS_PER_USER allows."""

    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        super().__init__(
            gettext(
                "You already have {limit} active API keys, the most allowed. Revoke one you no longer use first."
            ).format(limit=limit)
        )
