"""Domain errors of the quota; core.errors turns them into each API's answer."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.timezone import localtime
from django.utils.translation import gettext, gettext_lazy

from accounts.tokens import USER_NOT_FOUND
from core.errors import ApplicationError
from core.money import format_money
from quota.headers import rate_limit_headers

if TYPE_CHECKING:
    from quota.limits import Applied
    from quota.services import Allowance

BLOCKED = gettext_lazy("Your daily limit is 0: an administrator has blocked your use of the model.")
NOT_PRICED = gettext_lazy(
    "The model “{model}” has no price, and a spending limit applies to you: an administrator must set its price."
)
LIMIT_REACHED = {
    "requests": gettext_lazy("Daily limit of {limit} requests reached. It resets at {resets}."),
    "tokens": gettext_lazy("Daily limit of {limit} tokens reached. It resets at {resets}."),
}


# A limit of a key, a user (or their plan) or a team (quota.Limit): whose, how much, which period.
HOLDER = {
    "user": gettext_lazy("Your"),
    "api_key": gettext_lazy("This API key's"),
    "team": gettext_lazy("The team “{team}”'s"),
}
AMOUNT = {
    "requests": gettext_lazy("{amount} requests"),
    "tokens": gettext_lazy("{amount} tokens"),
    "cost": gettext_lazy("{amount}"),
}
PER_PERIOD = {
    "minute": gettext_lazy("a minute"),
    "day": gettext_lazy("a day"),
    "week": gettext_lazy("a week"),
    "month": gettext_lazy("a month"),
    "total": gettext_lazy("in total"),
}
PERIODIC_LIMIT_REACHED = gettext_lazy("{holder} limit of {amount} {per_period} is reached. It resets at {resets}.")
TOTAL_LIMIT_REACHED = gettext_lazy(
    "{holder} limit of {amount} {per_period} is used up. It does not reset: an administrator can raise it."
)
LIMIT_BLOCKS = gettext_lazy("{holder} limit of {amount} {per_period} is 0: an administrator has blocked this use.")
LIMIT_HELD = gettext_lazy(
    "{holder} limit of {amount} {per_period} is held by requests still running: too little is left for this one "
    "until they end. Retry in a moment."
)
HELD_RETRY_AFTER = 2  # seconds: requests in flight end, or give back what they set aside, in about that


class QuotaExceeded(ApplicationError):
    """A limit leaves no room for the request: one of the user's daily fields (`kind` "requests" or
    "tokens"), or a limit of their key, their plan or themselves, or their team (`applied`, with
    `kind` its metric, "cost" too). 429 with `Retry-After` when the limit's period ends; 403 when waiting
    does not help: a limit of 0 (blocked), or a total one (it never resets)."""

    def __init__(
        self,
        *,
        kind: str,
        limit: int,
        resets_at: dt.datetime | None,
        allowance: Allowance,
        applied: Applied | None = None,
        held: bool = False,
    ) -> None:
        super().__init__(f"limit of {limit} {kind} reached")
        self.kind = kind  # "requests", "tokens" or "cost"
        self.limit = limit  # in units: requests, tokens, or nano-units of the currency
        self.resets_at = resets_at  # None: never (a total)
        self.allowance = allowance
        self.applied = applied  # None: a daily field of the user's quota or plan
        # What requests in flight have set aside is what leaves too little: without them this one would fit,
        # and it will once they end (a 429 to retry shortly, not the limit's end).
        self.held = held

    @property
    def daily_limit(self) -> int:
        """The request limit (0: the user is blocked)."""
        return self.allowance.request_limit

    @property
    def blocked(self) -> bool:
        if self.held:
            return False
        if self.applied is not None:
            return self.applied.units == 0
        return self.daily_limit == 0

    @property
    def status(self) -> int:  # type: ignore[override]
        return 429 if self.held else 403 if self.blocked or self.resets_at is None else 429

    @property
    def code(self) -> str:  # type: ignore[override]
        if self.held:
            return "limit_held_by_requests_in_flight"  # retried by the SDKs, after Retry-After
        if self.blocked:
            return "relay_blocked"
        if self.applied is not None:
            return f"{self.applied.period}_{self.kind}_limit_reached"  # e.g. month_cost_limit_reached
        return "daily_token_limit_reached" if self.kind == "tokens" else "daily_limit_reached"

    @property
    def message(self) -> str:  # type: ignore[override]
        if self.applied is None:
            if self.blocked:
                return gettext(BLOCKED)
            return gettext(LIMIT_REACHED[self.kind]).format(limit=f"{self.limit:,}", resets=self._resets())
        applied = self.applied
        if applied.metric == "cost":
            amount = format_money(applied.units, settings.CHATGATEWAY_CURRENCY)
        else:
            amount = gettext(AMOUNT[applied.metric]).format(amount=f"{applied.units:,}")
        if self.held:
            template = LIMIT_HELD
        elif self.blocked:
            template = LIMIT_BLOCKS
        else:
            template = TOTAL_LIMIT_REACHED if self.resets_at is None else PERIODIC_LIMIT_REACHED
        return gettext(template).format(
            holder=gettext(HOLDER[applied.scope]).format(team=applied.name),
            amount=amount,
            per_period=gettext(PER_PERIOD[applied.period]),
            resets=self._resets(),
        )

    def _resets(self) -> str:
        return "" if self.resets_at is None else format_date(localtime(self.resets_at), "Y-m-d H:i T")

    @property
    def retry_after(self) -> int | None:  # type: ignore[override]
        if self.held:
            return HELD_RETRY_AFTER
        if self.blocked or self.resets_at is None:
            return None
        return max(1, math.ceil((self.resets_at - timezone.now()).total_seconds()))

    @property
    def headers(self) -> dict[str, str]:
        headers = rate_limit_headers(self.allowance)
        if self.applied is not None:
            # Which limit refused, for programs: "team month cost".
            headers["x-chatgateway-limit"] = f"{self.applied.scope} {self.applied.period} {self.kind}"
        return headers


class ModelNotPriced(ApplicationError):
    """A cost limit applies to the request and its model has no price: nothing can be reserved for it.
    403: an administrator must price the model (nothing was taken)."""

    status = 403
    code = "model_not_priced"

    def __init__(self, *, model: str) -> None:
        super().__init__(f"model {model!r} has no price")
        self.model = model

    @property
    def message(self) -> str:  # type: ignore[override]
        return gettext(NOT_PRICED).format(model=self.model)


class UserGone(ApplicationError):
    """The user was deleted while their request was being served (after it was authenticated): 401, as
    their credentials get from then on; nothing was taken."""

    status = 401
    code = "user_not_found"
    message = USER_NOT_FOUND
