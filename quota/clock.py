"""The quota day: it runs from midnight to midnight in the configured TIME_ZONE."""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.utils import timezone


def today() -> dt.date:
    return timezone.localdate()


def next_reset() -> dt.datetime:
    """The coming midnight, as an aware datetime in the configured time zone."""
    tomorrow = today() + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(tomorrow, dt.time.min))


def seconds_until_reset() -> int:
    """Whole seconds until the coming midnight, never less than 1 (for Retry-After)."""
    return max(1, math.ceil((next_reset() - timezone.now()).total_seconds()))


# The start of every period TOTAL counts in: it never starts afresh.
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def period_start(period: str, now: dt.datetime | None = None) -> dt.datetime:
    """When the `period` (quota.models.Period) holding `now` began: a calendar minute, day, week (from
    CHATGATEWAY_WEEK_STARTS_ON) or month in TIME_ZONE; EPOCH for "total"."""
    if period == "total":
        return EPOCH
    local = timezone.localtime(now or timezone.now())
    if period == "minute":
        return local.replace(second=0, microsecond=0)
    day = local.date()
    if period == "week":
        day -= dt.timedelta(days=(day.weekday() - settings.CHATGATEWAY_WEEK_STARTS_ON) % 7)
    elif period == "month":
        day = day.replace(day=1)
    elif period != "day":
        raise ValueError(f"no such period: {period!r}")
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def period_end(period: str, start: dt.datetime) -> dt.datetime | None:
    """When the `period` that began at `start` ends (the next one begins); None for "total"."""
    if period == "total":
        return None
    if period == "minute":
        return start + dt.timedelta(minutes=1)
    day = timezone.localtime(start).date()
    if period == "day":
        day += dt.timedelta(days=1)
    elif period == "week":
        day += dt.timedelta(days=7)
    else:  # month
        day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def seconds_until(moment: dt.datetime | None) -> int | None:
    """Whole seconds until `moment`, never less than 1 (for Retry-After); None for never."""
    if moment is None:
        return None
    return max(1, math.ceil((moment - timezone.now()).total_seconds()))
