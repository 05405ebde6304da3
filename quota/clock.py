"""The quota day: it runs from midnight to midnight in the configured TIME_ZONE."""

from __future__ import annotations

import datetime as dt
import math

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
