"""Domain errors of the quota; core.errors turns them into each API's answer."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.utils.dateformat import format as format_date
from django.utils.timezone import localtime
from django.utils.translation import gettext, gettext_lazy

from accounts.tokens import USER_NOT_FOUND
from core.errors import ApplicationError
from quota.headers import rate_limit_headers

if TYPE_CHECKING:
    from quota.services import Allowance

BLOCKED = gettext_lazy("Your daily limit is 0: an administrator has blocked your use of the model.")
LIMIT_REACHED = {
    "requests": gettext_lazy("Daily limit of {limit} requests reached. It resets at {resets}."),
    "tokens": gettext_lazy("Daily limit of {limit} tokens reached. It resets at {resets}."),
}


class QuotaExceeded(ApplicationError):
    """The user has no requests, or no tokens, left today (`kind` says which): 429 with `Retry-After`, or
    403 when their request limit is 0 (blocked: waiting does not help)."""

    def __init__(self, *, kind: str, limit: int, resets_at: dt.datetime, allowance: Allowance) -> None:
        super().__init__(f"daily limit of {limit} {kind} reached")
        self.kind = kind  # "requests" or "tokens"
        self.limit = limit
        self.resets_at = resets_at
        self.allowance = allowance

    @property
    def daily_limit(self) -> int:
        """The request limit (0: the user is blocked)."""
        return self.allowance.request_limit

    @property
    def blocked(self) -> bool:
        return self.daily_limit == 0

    @property
    def status(self) -> int:  # type: ignore[override]
        return 403 if self.blocked else 429

    @property
    def code(self) -> str:  # type: ignore[override]
        if self.blocked:
            return "relay_blocked"
        return "daily_token_limit_reached" if self.kind == "tokens" else "daily_limit_reached"

    @property
    def message(self) -> str:  # type: ignore[override]
        if self.blocked:
            return gettext(BLOCKED)
        resets = format_date(localtime(self.resets_at), "Y-m-d H:i T")
        return gettext(LIMIT_REACHED[self.kind]).format(limit=f"{self.limit:,}", resets=resets)

    @property
    def retry_after(self) -> int | None:  # type: ignore[override]
        return None if self.blocked else self.allowance.resets_in

    @property
    def headers(self) -> dict[str, str]:
        return rate_limit_headers(self.allowance)


class UserGone(ApplicationError):
    """The user was deleted while their request was being served (after it was authenticated): 401, as
    their credentials get from then on; nothing was taken."""

    status = 401
    code = "user_not_found"
    message = USER_NOT_FOUND
