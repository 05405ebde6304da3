from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quota.services import Allowance


class QuotaExceeded(Exception):
    """The user has no requests, or no tokens, left today (`kind` says which)."""

    def __init__(self, *, kind: str, limit: int, resets_at: dt.datetime, allowance: Allowance) -> None:
        super().__init__(f"daily limit of {limit} {kind} reached")
        self.kind = kind  # "requests" or "tokens"
        self.limit = limit
        self.resets_at = resets_at
        self.allowance = allowance

    @property
    def retry_after(self) -> int:
        return self.allowance.resets_in

    @property
    def daily_limit(self) -> int:
        """The request limit (0: the user is blocked)."""
        return self.allowance.request_limit
