"""Reads of the relay's records."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from relay.models import UsageRecord


def usage_records_for(
    *, user_id: int, since: dt.date | None = None, until: dt.date | None = None, model: str | None = None
) -> QuerySet[UsageRecord]:
    """`user_id`'s usage records, newest first, charged to the days `since` through `until`, of `model`."""
    # The user filter and the newest-first order are the (user, -created) index, so a page costs
    # an index range scan however many records the table holds.
    records = UsageRecord.objects.filter(user_id=user_id).order_by("-created", "-id")
    # By the day each request was charged to: a stream reserved before midnight and ended after it stays on
    # its day. A record is made when its request ends, on or after the midnight that starts its day, and
    # within a day of its end, so the `created` range (which the index serves, in order) is widened by a
    # day after `until`, and `day` picks the records exactly.
    if since is not None:
        records = records.filter(day__gte=since)
        if (start := _midnight_starting(since)) is not None:
            records = records.filter(created__gte=start)
    if until is not None:
        records = records.filter(day__lte=until)
        if (end := _midnight_starting(until, days_later=2)) is not None:
            records = records.filter(created__lt=end)
    if model is not None:
        records = records.filter(model=model)
    # The texts can be long and are never listed: leave them in the database.
    return records.defer("prompt_text", "completion_text")


def _midnight_starting(day: dt.date, *, days_later: int = 0) -> dt.datetime | None:
    """The midnight that starts `day` (plus `days_later`) in TIME_ZONE, or None past the calendar's ends."""
    # Converting to UTC here, not in the database adapter, turns the year-1 and year-9999 edges into
    # "no bound on that side" (nothing is stored beyond them) instead of an OverflowError.
    try:
        midnight = dt.datetime.combine(day + dt.timedelta(days=days_later), dt.time.min)
        return timezone.make_aware(midnight).astimezone(dt.UTC)
    except OverflowError:
        return None
