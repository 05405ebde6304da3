"""Reserving, settling and refunding a user's daily requests and tokens, exactly, in the database.

A request takes one request and, where a token limit applies, a completion budget (its `max_tokens`,
capped to what is left after the budgets of requests already in flight) when it starts. When it
ends, the budget is released and the tokens it really used are added (`settle_request`), or, when
it failed, everything is given back (`refund_request`). So a user can pass a daily token limit only
by the prompts of the requests in flight at the time; a request limit is never passed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, PositiveBigIntegerField, Q, Value, When
from django.db.models.functions import Greatest

from quota import clock
from quota.exceptions import QuotaExceeded
from quota.models import Quota


@dataclasses.dataclass(frozen=True)
class Allowance:
    """Where a user stands after a reservation: what the rate-limit headers tell the client."""

    request_limit: int
    requests_remaining: int
    token_limit: int | None  # None: no token limit applies
    tokens_remaining: int | None
    resets_in: int  # whole seconds until the counts start afresh


@dataclasses.dataclass(frozen=True)
class Reservation:
    """One request taken from `user_id`'s allowance for `day`, with `token_budget` completion
    tokens set aside (None: no token limit applies, nothing set aside)."""

    user_id: int
    day: dt.date
    token_budget: int | None
    allowance: Allowance

    def settled(self, *, tokens: int) -> Allowance:
        """Where the user stands once this request is settled with `tokens` used: its budget given
        back and its tokens counted. Worked out from the allowance at reservation, so that an answer's
        rate-limit headers are true after it without reading the quota row again (what other requests
        of the user reserved or settled meanwhile is not seen)."""
        if self.allowance.tokens_remaining is None:
            return self.allowance
        remaining = self.allowance.tokens_remaining + (self.token_budget or 0) - tokens
        return dataclasses.replace(self.allowance, tokens_remaining=remaining)


@dataclasses.dataclass(frozen=True)
class QuotaStatus:
    plan: str | None
    daily_limit: int
    used_today: int
    remaining: int
    daily_token_limit: int | None
    tokens_used_today: int
    tokens_remaining: int | None
    resets_at: dt.datetime


def reserve_request(*, user_id: int, completion_tokens: int | None = None) -> Reservation:
    """Take one request, and under a token limit a budget of up to `completion_tokens` (default
    CHATGATEWAY_COMPLETION_RESERVE), from today's allowance; or raise QuotaExceeded.

    The user's row is read under a lock and written in the same transaction (two statements), so
    concurrent requests from any number of processes queue on that one row and can never take more
    than the limits. A single conditional UPDATE would do for the request count alone, but the
    budget depends on what is left, which the UPDATE could not report back. A row still on an earlier
    day starts afresh here (no reset has to have run); a row already on a later day (another host's
    clock passed midnight first) is counted as it stands: a day never moves backwards.
    """
    today = clock.today()
    with transaction.atomic():
        quota = Quota.objects.select_related("plan").select_for_update(of=("self",)).filter(user_id=user_id).first()
        if quota is None:
            # A user made without the signal (bulk_create, raw SQL): give them the default first.
            Quota.objects.get_or_create(user_id=user_id)
            quota = Quota.objects.select_related("plan").select_for_update(of=("self",)).get(user_id=user_id)
        used, tokens_used, reserved = quota.used_on(today), quota.tokens_used_on(today), quota.tokens_reserved_on(today)
        request_limit, token_limit = quota.request_limit(), quota.token_limit()
        if used >= request_limit:
            _refuse("requests", request_limit, quota, today)
        budget = None
        if token_limit is not None:
            available = token_limit - tokens_used - reserved
            if available <= 0:
                _refuse("tokens", token_limit, quota, today)
            budget = min(completion_tokens or settings.CHATGATEWAY_COMPLETION_RESERVE, available)
        day = max(quota.day or today, today)
        Quota.objects.filter(pk=quota.pk).update(
            used=used + 1, tokens_used=tokens_used, tokens_reserved=reserved + (budget or 0), day=day
        )
    allowance = Allowance(
        request_limit=request_limit,
        requests_remaining=request_limit - used - 1,
        token_limit=token_limit,
        tokens_remaining=None if token_limit is None else token_limit - tokens_used - reserved - (budget or 0),
        resets_in=clock.seconds_until_reset(),
    )
    return Reservation(user_id=user_id, day=day, token_budget=budget, allowance=allowance)


def _refuse(kind: str, limit: int, quota: Quota, today: dt.date) -> None:
    allowance = Allowance(
        request_limit=quota.request_limit(),
        requests_remaining=quota.remaining_on(today),
        token_limit=quota.token_limit(),
        tokens_remaining=quota.tokens_remaining_on(today),
        resets_in=clock.seconds_until_reset(),
    )
    raise QuotaExceeded(kind=kind, limit=limit, resets_at=clock.next_reset(), allowance=allowance)


def settle_request(*, reservation: Reservation, tokens: int) -> None:
    """The request counts: release its budget and add the `tokens` it used, on its own day only
    (a request in flight at midnight is not charged to the new day)."""
    Quota.objects.filter(user_id=reservation.user_id, day=reservation.day).update(
        tokens_reserved=_released(reservation), tokens_used=F("tokens_used") + tokens
    )


def refund_request(*, reservation: Reservation) -> None:
    """Give back a reserved request and its budget (its relay failed); a no-op once its day has passed."""
    Quota.objects.filter(user_id=reservation.user_id, day=reservation.day).update(
        used=Greatest(F("used") - 1, Value(0)), tokens_reserved=_released(reservation)
    )


def _released(reservation: Reservation) -> Greatest:
    return Greatest(F("tokens_reserved") - (reservation.token_budget or 0), Value(0))


def reset_stale_counts() -> int:
    """Bring every row counted on an earlier day to today with nothing used. Idempotent."""
    today = clock.today()
    return Quota.objects.filter(day__lt=today).update(used=0, tokens_used=0, tokens_reserved=0, day=today)


def reset_today(*, user_ids: list[int]) -> int:
    """Give these users today's allowance afresh (an administrator's action).

    Budgets of requests in flight stay reserved, so that settling them can't take the count below
    zero, and a row already on a later day (another host's clock) keeps that day. A request in flight
    that fails after the reset gives its request back to the fresh count: an administrator's reset can
    grant at most the requests then in flight on top of the limit.
    """
    today = clock.today()
    stale = Q(day__lt=today) | Q(day__isnull=True)
    return Quota.objects.filter(user_id__in=user_ids).update(
        used=0,
        tokens_used=0,
        tokens_reserved=Case(
            When(stale, then=Value(0)), default=F("tokens_reserved"), output_field=PositiveBigIntegerField()
        ),
        day=Case(When(stale, then=Value(today)), default=F("day")),
    )


def quota_status(*, user_id: int) -> QuotaStatus:
    """Where the user stands today."""
    quota, _ = Quota.objects.select_related("plan").get_or_create(user_id=user_id)
    today = clock.today()
    return QuotaStatus(
        plan=quota.plan.name if quota.plan else None,
        daily_limit=quota.request_limit(),
        used_today=quota.used_on(today),
        remaining=quota.remaining_on(today),
        daily_token_limit=quota.token_limit(),
        tokens_used_today=quota.tokens_used_on(today),
        tokens_remaining=quota.tokens_remaining_on(today),
        resets_at=clock.next_reset(),
    )


def status_at_reservation(*, allowance: Allowance) -> QuotaStatus:
    """Where the user stood by `allowance` (their request's, at its reservation or after its
    settlement): for an answer whose later reading of the quota failed (the database went away
    meanwhile). No plan name; without a token limit the tokens used are not known here, and given as 0."""
    tokens_used = 0 if allowance.token_limit is None else allowance.token_limit - (allowance.tokens_remaining or 0)
    return QuotaStatus(
        plan=None,
        daily_limit=allowance.request_limit,
        used_today=allowance.request_limit - allowance.requests_remaining,
        remaining=allowance.requests_remaining,
        daily_token_limit=allowance.token_limit,
        tokens_used_today=tokens_used,
        tokens_remaining=allowance.tokens_remaining,
        resets_at=clock.next_reset(),
    )
