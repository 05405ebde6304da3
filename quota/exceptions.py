from __future__ import annotations

import datetime as dt


class QuotaExceeded(Exception):
    """The user has no requests left today."""

    def __init__(self, *, daily_limit: int, resets_at: dt.datetime, retry_after: int) -> None:
        super().__init__(f"daily limit of {daily_limit} reached")
        self.daily_limit = daily_limit
        self.resets_at = resets_at
        self.retry_after = retry_after
