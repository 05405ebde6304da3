"""Domain errors of accounts; core.errors and accounts.middleware turn them into HTTP responses."""

from __future__ import annotations

from rest_framework.exceptions import Throttled


class LoginThrottled(Throttled):
    """Too many failed logins from this address, or for this username, in the current window."""

    default_detail = "Too many failed logins."
    default_code = "login_throttled"
    extra_detail_singular = "Try again in {wait} second."
    extra_detail_plural = "Try again in {wait} seconds."

    def __init__(self, *, wait: int) -> None:
        super().__init__(wait=wait)
