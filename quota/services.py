"""Reserving and refunding a user's daily requests, atomically in the database."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db.models import Case, F, Q, Value, When

from quota import clock
from quota.exceptions import QuotaExceeded
from quota.models import Quota


@dataclasses.dataclass(frozen=True)
class Reservation:
    """One request taken from `user_id`'s allowance for `day`."""

    user_id: int
    day: dt.date


@dataclasses.dataclass(frozen=True)
class QuotaStatus:
    daily_limit: int
    used_today: int
    remaining: int
    resets_at: dt.datetime


def reserve_request(*, user_id: int) -> Reservation:
    """Take one request from today's allowance, or raise QuotaExceeded.

    One conditional UPDATE decides: it grants only while `used < daily_limit`, and it starts the
    count afresh when the row still holds an earlier day, so concurrent callers can never take
    more than the limit and no reset has to have run first. A row already on a later day (another
    host's clock passed midnight first) is counted as it stands: a day never moves backwards.
    """
    today = clock.today()
    counting = Q(day__gte=today)
    granted = (
        Quota.objects.filter(user_id=user_id, daily_limit__gt=0)
        .filter(~counting | Q(day__isnull=True) | Q(used__lt=F("daily_limit")))
        .update(
            used=Case(When(counting, then=F("used") + 1), default=Value(1)),
            day=Case(When(day__gt=today, then=F("day")), default=Value(today)),
        )
    )
    if granted:
        return Reservation(user_id=user_id, day=today)
    if not Quota.objects.filter(user_id=user_id).exists():
        # A user made without the signal (bulk_create, raw SQL): give them the default and retry.
        Quota.objects.get_or_create(user_id=user_id)
        return reserve_request(user_id=user_id)
    limit = Quota.objects.values_list("daily_limit", flat=True).get(user_id=user_id)
    raise QuotaExceeded(daily_limit=limit, resets_at=clock.next_reset(), retry_after=clock.seconds_until_reset())


def refund_request(*, reservation: Reservation) -> None:
    """Give back a reserved request (its relay failed); a no-op once its day has passed."""
    Quota.objects.filter(user_id=reservation.user_id, day=reservation.day, used__gt=0).update(used=F("used") - 1)


def reset_stale_counts() -> int:
    """Bring every row counted on an earlier day to today with nothing used. Idempotent."""
    today = clock.today()
    return Quota.objects.filter(day__lt=today).update(used=0, day=today)


def quota_status(*, user_id: int) -> QuotaStatus:
    """Where the user stands today."""
    quota, _ = Quota.objects.get_or_create(user_id=user_id)
    today = clock.today()
    return QuotaStatus(
        daily_limit=quota.daily_limit,
        used_today=quota.used_on(today),
        remaining=quota.remaining_on(today),
        resets_at=clock.next_reset(),
    )
