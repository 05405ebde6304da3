"""The roll-up of the usage records: per day, what they add up to by user, key, team, model, error and provider.

The dashboard, a user's month and the list's filters read it instead of the records (ten million a year
for 300 people), and stay exact:

- It holds exactly the records whose id is at most `RollupState.last_id`; every reader adds the records after
  it (the tail: an index range on the primary key) from the table itself. A record that arrives late (the
  outbox replaying after a database outage, a lost request recorded by another process) has a new id, so it
  is in the tail until the next refresh, whatever its day.
- `last_id` is only ever a committed id with no uncommitted one below it: on PostgreSQL the refresh takes the
  table's SHARE lock for an instant (waiting for the inserts in flight, at most LOCK_TIMEOUT, else it tries
  another time) to read it; on SQLite writers take turns anyway.
- A deletion (prune_usage, a user deleted) or a record moved to another day is marked by a trigger
  (migration 0001) in `DirtyDay`; a refresh recomputes those days.
- The relay's insert does no more work than before: nothing runs on an insert.

A refresh recomputes whole days (those of the new records, and the dirty ones) from the records: a day is
tens of thousands of records through the `day` index. It runs lazily, when a report finds more than
REFRESH_AFTER new records (and no more than LAZY_LIMIT: building it all the first time is the command's
job, `manage.py rollup_usage`, about a minute for ten million records), or from the command.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.utils import timezone

from relay.models import UsageRecord
from usage.models import DailyUsage, DirtyDay, RollupState

logger = logging.getLogger(__name__)

REFRESH_AFTER = 5_000  # new records a report leaves in the tail before it refreshes the roll-up
LAZY_LIMIT = 300_000  # more new records than this are left to `rollup_usage` (the first build, above all)
LAZY_DIRTY_DAYS = 31  # more days to recompute than this are left to `rollup_usage` too
LOCK_TIMEOUT = "200ms"
DAYS_PER_STEP = 7
SEPARATOR = "\n"  # between a status and an error, a provider and its model: neither holds a line break

SUCCESSFUL = Q(status_code=200)
BY = DailyUsage.By


def sums(currency: str) -> dict:
    """What a roll-up row adds up, from the records (each name is a column's too: the counts of a column come
    before its sum takes its name)."""
    return {
        "ttfb_count": Count("ttfb_ms"),
        "requests": Count("id"),
        "errors": Count("id", filter=~SUCCESSFUL),
        "prompt_tokens": Sum("prompt_tokens", default=0),
        "completion_tokens": Sum("completion_tokens", default=0),
        "total_tokens": Sum("total_tokens", default=0),
        "cost": Sum("cost", filter=Q(currency=currency), default=0),
        "latency_ms": Sum("latency_ms", default=0),
        "ttfb_ms": Sum("ttfb_ms", default=0),
        "after_fallback": Count("id", filter=Q(attempts__gt=1)),
    }


FIELDS = tuple(sums(""))

# Each grouping: the records it counts, the columns it groups them by.
GROUPINGS: dict[str, tuple[Q, tuple[str, ...]]] = {
    BY.USER: (Q(), ("user_id",)),
    BY.KEY: (Q(api_key__isnull=False), ("api_key_id",)),
    BY.TEAM: (~Q(team=""), ("team",)),
    BY.MODEL: (Q(), ("model",)),
    BY.ERROR: (~SUCCESSFUL, ("status_code", "error")),
    BY.SERVED: (~Q(provider=""), ("provider", "upstream_model")),
}


@dataclasses.dataclass
class Sums:
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: int = 0
    latency_ms: int = 0
    ttfb_ms: int = 0
    ttfb_count: int = 0
    after_fallback: int = 0

    def add(self, row: dict) -> None:
        for name in FIELDS:
            setattr(self, name, getattr(self, name) + (row[name] or 0))


@dataclasses.dataclass
class Report:
    """The sums of a period: per day (all records), and per grouping and key."""

    days: dict[dt.date, Sums]
    groups: dict[str, dict[str, Sums]]
    users: set[int]

    def total(self) -> Sums:
        total = Sums()
        for day in self.days.values():
            total.add(dataclasses.asdict(day))
        return total


def key_of(by: str, row: dict) -> str:
    return SEPARATOR.join(str(row[column]) for column in GROUPINGS[by][1])


def state() -> RollupState:
    return RollupState.objects.get_or_create(pk=1)[0]


def tail(since_id: int) -> QuerySet[UsageRecord]:
    """The records the roll-up does not hold yet."""
    return UsageRecord.objects.filter(pk__gt=since_id).order_by()


def report(
    *, first: dt.date, last: dt.date, user_id: int | None = None, fresh: bool = True, groupings: Iterable[str] = BY
) -> Report:
    """The sums of the records charged to `first` … `last` (of `user_id` alone: then only per day), exact:
    the roll-up's rows, and the records after it. `fresh`: refresh the roll-up first if it is behind."""
    current, dirty = refresh_if_behind() if fresh else (state(), None)
    if current.currency != settings.CHATGATEWAY_CURRENCY:
        current = RollupState(last_id=0)  # rolled up in another currency: the records alone are right
    result = Report(days={}, groups={by: {} for by in GROUPINGS}, users=set())
    # A day marked dirty (records deleted since it was rolled up) is read from its records until recomputed.
    if dirty is None:
        dirty = set(DirtyDay.objects.filter(day__gte=first, day__lte=last).values_list("day", flat=True))
    dirty = [day for day in dirty if first <= day <= last]
    rolled = DailyUsage.objects.filter(day__gte=first, day__lte=last).exclude(day__in=dirty)
    if user_id is not None:
        rolled = rolled.filter(by=BY.USER, key=str(user_id))
    else:
        grouped = rolled.filter(by__in=list(groupings))
        for row in grouped.values("by", "key").annotate(**{name: Sum(name) for name in FIELDS}).order_by():
            result.groups[row["by"]].setdefault(row["key"], Sums()).add(row)
    for row in rolled.filter(by=BY.USER).values("day").annotate(**{name: Sum(name) for name in FIELDS}).order_by():
        result.days.setdefault(row["day"], Sums()).add(row)
    # The records after the roll-up: grouped every way at once, few (at most REFRESH_AFTER, once refreshed).
    records = UsageRecord.objects.filter(Q(pk__gt=current.last_id) | Q(day__in=dirty), day__gte=first, day__lte=last)
    if user_id is not None:
        records = records.filter(user_id=user_id)
    columns = ("day", *dict.fromkeys(column for _, group in GROUPINGS.values() for column in group))
    flags = {"keyed": Q(api_key__isnull=False), "teamed": ~Q(team=""), "failed": ~SUCCESSFUL,
             "served": ~Q(provider="")}  # fmt: skip
    for row in _grouped(records, columns, flags):
        result.days.setdefault(row["day"], Sums()).add(row)
        if user_id is not None:
            continue
        for by, (_, _group) in GROUPINGS.items():
            if _counts(by, row):
                result.groups[by].setdefault(key_of(by, row), Sums()).add(row)
    result.users = {int(key) for key in result.groups[BY.USER]}
    return result


def _grouped(records: QuerySet[UsageRecord], columns: tuple[str, ...], flags: dict[str, Q]) -> Iterable[dict]:
    annotated = {name: Count("id", filter=condition) for name, condition in flags.items()}
    return records.values(*columns).annotate(**sums(settings.CHATGATEWAY_CURRENCY), **annotated).order_by()


def _counts(by: str, row: dict) -> bool:
    """Whether a tail row grouped by every column counts in grouping `by` (as GROUPINGS' conditions say)."""
    needs = {BY.KEY: "keyed", BY.TEAM: "teamed", BY.ERROR: "failed", BY.SERVED: "served"}.get(by)
    return needs is None or bool(row[needs])


def values() -> dict[str, set]:
    """Every user id, team, model, provider and status the records hold (a deleted record's may linger until
    its day is recomputed): the choices of the usage list's filters."""
    found: dict[str, set] = {"user": set(), "team": set(), "model": set(), "provider": set(), "status_code": set()}
    current = state()
    for by, key in DailyUsage.objects.values_list("by", "key").distinct().order_by():
        if by == BY.USER:
            found["user"].add(int(key))
        elif by in (BY.TEAM, BY.MODEL):
            found[by].add(key)
        elif by == BY.SERVED:
            found["provider"].add(key.split(SEPARATOR, 1)[0])
        elif by == BY.ERROR:
            found["status_code"].add(int(key.split(SEPARATOR, 1)[0]))
    if DailyUsage.objects.filter(by=BY.USER, requests__gt=F("errors")).exists():  # some answered with 200
        found["status_code"].add(200)
    columns = ("user_id", "team", "model", "provider", "status_code")
    for row in tail(current.last_id).values_list(*columns).distinct():
        for name, value in zip(("user", *columns[1:]), row, strict=True):
            found[name].add(value)
    found["team"].discard("")  # no team, no provider: not a choice (the roll-up leaves them out too)
    found["provider"].discard("")
    return found


# --- refreshing ---------------------------------------------------------------------------------------------


def refresh_if_behind() -> tuple[RollupState, set[dt.date]]:
    """The roll-up's state and its dirty days, refreshed first when a report would otherwise read many records,
    and the refresh is small enough to make a page wait for it (the first build, or a year of dirty days, are
    the command's)."""
    current = state()
    newest = UsageRecord.objects.aggregate(newest=Max("pk"))["newest"] or 0
    behind = newest - current.last_id
    stale = current.currency != settings.CHATGATEWAY_CURRENCY and newest > 0
    dirty = set(DirtyDay.objects.values_list("day", flat=True))
    small = behind <= LAZY_LIMIT and len(dirty) <= LAZY_DIRTY_DAYS and (not stale or newest <= LAZY_LIMIT)
    if small and (behind > REFRESH_AFTER or dirty or stale):
        try:
            refresh(rebuild=stale)
        except DatabaseError:  # a lock not granted in time: the records after the roll-up are read instead
            logger.warning("usage roll-up not refreshed now (the records' table is busy)", exc_info=True)
        current, dirty = state(), set(DirtyDay.objects.values_list("day", flat=True))
    return current, dirty


def refresh(*, rebuild: bool = False, days_per_step: int = DAYS_PER_STEP) -> int:
    """Roll up the records after `last_id` and recompute the dirty days (every day, `rebuild`); return how many
    days were recomputed."""
    state()  # made, outside the transaction that locks it
    newest = _committed_newest() if connection.vendor == "postgresql" else None
    with transaction.atomic():
        current = RollupState.objects.select_for_update().get(pk=1)
        if newest is None:  # SQLite: this transaction holds the database's write lock
            newest = UsageRecord.objects.aggregate(newest=Max("pk"))["newest"] or 0
        if rebuild or current.currency != settings.CHATGATEWAY_CURRENCY:
            DailyUsage.objects.all().delete()
            days = set(UsageRecord.objects.order_by().exclude(day=None).values_list("day", flat=True).distinct())
            dirty = dict(DirtyDay.objects.values_list("day", "marks"))
        else:
            newest = max(newest, current.last_id)
            dirty = dict(DirtyDay.objects.values_list("day", "marks"))
            days = set(dirty) | set(
                tail(current.last_id).filter(pk__lte=newest).exclude(day=None).values_list("day", flat=True).distinct()
            )
        ordered = sorted(days)
        for start in range(0, len(ordered), days_per_step):
            _recompute(ordered[start : start + days_per_step], up_to=newest)
        for day, marks in dirty.items():  # a day marked again meanwhile stays marked
            DirtyDay.objects.filter(day=day, marks=marks).delete()
        current.last_id = newest
        current.currency = settings.CHATGATEWAY_CURRENCY
        current.refreshed = timezone.now()
        current.save()
    return len(days)


def _committed_newest() -> int:
    """The newest record's id, with every insert that took a smaller id finished: the SHARE lock waits for the
    transactions writing the table (and holds the next ones back for the instant it is held)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(f"LOCK TABLE {UsageRecord._meta.db_table} IN SHARE MODE")
        cursor.execute(f"SELECT max(id) FROM {UsageRecord._meta.db_table}")  # noqa: S608  (our own table's name)
        return cursor.fetchone()[0] or 0


def _recompute(days: list[dt.date], *, up_to: int) -> None:
    DailyUsage.objects.filter(day__in=days).delete()
    records = UsageRecord.objects.filter(day__in=days, pk__lte=up_to).order_by()
    rows = []
    for by, (condition, columns) in GROUPINGS.items():
        for row in records.filter(condition).values("day", *columns).annotate(**sums(settings.CHATGATEWAY_CURRENCY)):
            rows.append(DailyUsage(day=row["day"], by=by, key=key_of(by, row), **{name: row[name] for name in FIELDS}))
    DailyUsage.objects.bulk_create(rows, batch_size=2000)
