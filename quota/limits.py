"""The limits beyond a user's daily fields (quota.Limit): which apply to a request, the counters they are
held to, and what a request may take of them.

A request draws on up to three holders: its API key, its user (their own limits, else their plan's, metric
by metric and period by period) and its team. Each (holder, period) with a limit has one counter row
(quota.Counter). quota.services locks those rows, after the user's quota row and in the order of their
ids, so that two requests sharing a team or a key always take their locks in the same order and never
wait on each other in a circle.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable
from decimal import Decimal

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from core import access
from core.sql import at_least_zero
from quota import clock
from quota.models import Counter, Limit, Metric, Period

SCOPES = ("api_key", "user", "team")  # the holders a request draws on, in the order a refusal names them


@dataclasses.dataclass(frozen=True)
class Holders:
    """Whom a request draws on: its user, and its API key and team if any."""

    user_id: int
    api_key_id: int | None = None
    team_id: int | None = None

    def id_of(self, scope: str) -> int | None:
        return {"user": self.user_id, "api_key": self.api_key_id, "team": self.team_id}[scope]


@dataclasses.dataclass(frozen=True)
class Pricing:
    """What a request costs at worst, in nano-units: its estimated prompt, and each completion token."""

    prompt_cost: int
    output_per_token: Decimal  # nano-units a completion token

    def cost_of(self, completion_tokens: int | None) -> int:
        return self.prompt_cost + math.ceil((completion_tokens or 0) * self.output_per_token)

    def tokens_for(self, nanos: int) -> int | None:
        """Completion tokens that `nanos` pay for once the prompt is paid (None: output is free)."""
        if self.output_per_token <= 0:
            return None
        return math.floor((nanos - self.prompt_cost) / self.output_per_token)


@dataclasses.dataclass(frozen=True)
class Applied:
    """A limit in force for a request: whose (`scope`, `name` for a team), and its amount in units."""

    scope: str
    metric: str
    period: str
    units: int
    name: str = ""


@dataclasses.dataclass(frozen=True)
class Charge:
    """What a reservation took on one counter, in the period starting at `start`: settled there only."""

    counter_id: int
    start: dt.datetime
    requests: int
    tokens_reserved: int
    cost_reserved: int

    def as_json(self) -> list:
        return [self.counter_id, self.start.isoformat(), self.requests, self.tokens_reserved, self.cost_reserved]

    @classmethod
    def from_json(cls, value: list) -> Charge:
        counter_id, start, requests, tokens_reserved, cost_reserved = value
        return cls(counter_id, dt.datetime.fromisoformat(start), requests, tokens_reserved, cost_reserved)


def limits_for(holders: Holders) -> list[Applied]:
    """The limits in force for a request of these holders: the key's, the user's own or else their plan's
    (of each metric and period), and the team's. From the process's cache (core/access.py), which any
    change to a limit or to a user's plan ends at once; else one query."""
    return list(access.cached("limits", holders, lambda: _limits_for(holders)))


def _limits_for(holders: Holders) -> tuple[Applied, ...]:
    where = Q(user_id=holders.user_id) | Q(plan__quotas__user_id=holders.user_id)
    if holders.api_key_id is not None:
        where |= Q(api_key_id=holders.api_key_id)
    if holders.team_id is not None:
        where |= Q(team_id=holders.team_id)
    rows = list(Limit.objects.filter(where).select_related("team").order_by("id"))
    own = {(row.metric, row.period) for row in rows if row.user_id is not None}
    applied = []
    for row in rows:
        if row.plan_id is not None and (row.metric, row.period) in own:
            continue  # the user's own limit overrides the plan's
        scope = "user" if row.plan_id is not None else row.holder
        applied.append(Applied(scope, row.metric, row.period, row.units(), row.team.name if row.team_id else ""))
    return tuple(applied)


def counter_keys(limits: Iterable[Applied]) -> set[tuple[str, str]]:
    """The (scope, period) of each counter these limits are held to."""
    return {(limit.scope, limit.period) for limit in limits}


_known: set[tuple[str, int, str]] = set()  # counters this process has seen exist: (scope, holder id, period)


def ensure_counters(holders: Holders, keys: set[tuple[str, str]]) -> None:
    """Make the counters that don't exist yet, outside the reservation's transaction: an insert that meets
    another process's of the same counter waits for it and then does nothing, holding no lock of ours."""
    missing = [(scope, holders.id_of(scope), period) for scope, period in keys]
    missing = [key for key in missing if key not in _known]
    if not missing:
        return
    Counter.objects.bulk_create(
        [Counter(**{f"{scope}_id": holder_id}, period=period) for scope, holder_id, period in missing],
        ignore_conflicts=True,
    )
    _known.update(missing)


def forget_counters() -> None:
    """Counters may have gone (a test's rollback, a holder deleted): look again next time."""
    _known.clear()


def lock_counters(holders: Holders, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Counter] | None:
    """The counters of `keys`, locked in the order of their ids (the one order every transaction takes
    them in); None if one is missing (made before this transaction, and gone since). One statement, in SQL:
    the ORM's building of this query (a condition for each counter) cost more than the query."""
    if not keys:
        return {}
    where, params = [], []
    for scope, period in sorted(keys):
        where.append(f"({_HOLDER_COLUMN[scope]} = %s AND period = %s)")
        params += [holders.id_of(scope), period]
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""  # SQLite: the database's lock
    table = connection.ops.quote_name(Counter._meta.db_table)
    sql = f"SELECT {', '.join(_COUNTER_FIELDS)} FROM {table} WHERE {' OR '.join(where)} ORDER BY id{lock}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    convert = getattr(connection.ops, "convert_datetimefield_value", None)  # SQLite's: naive UTC to aware
    found = {}
    for row in rows:
        counter = Counter(**dict(zip(_COUNTER_FIELDS, row, strict=True)))
        if convert is not None and counter.start is not None:
            counter.start = convert(counter.start, None, connection)
        counter._state.adding = False
        scope = "user" if counter.user_id is not None else "api_key" if counter.api_key_id is not None else "team"
        found[(scope, counter.period)] = counter
    return found if len(found) == len(keys) else None


_HOLDER_COLUMN = {"user": "user_id", "api_key": "api_key_id", "team": "team_id"}
_COUNTER_FIELDS = (
    "id", "user_id", "api_key_id", "team_id", "period", "start", "requests", "tokens", "cost", "tokens_reserved",
    "cost_reserved",
)  # fmt: skip


@dataclasses.dataclass
class Standing:
    """A counter's counts in the current period of its own (zero if the stored ones are of an earlier one)."""

    counter: Counter
    start: dt.datetime
    requests: int
    tokens: int
    cost: int
    tokens_reserved: int
    cost_reserved: int

    @classmethod
    def of(cls, counter: Counter, now: dt.datetime) -> Standing:
        start = clock.period_start(counter.period, now)
        if counter.counts_in(start):
            c = counter
            return cls(c, c.start, c.requests, c.tokens, c.cost, c.tokens_reserved, c.cost_reserved)
        return cls(counter, start, 0, 0, 0, 0, 0)

    def remaining(self, metric: str, units: int) -> int:
        if metric == Metric.REQUESTS:
            return units - self.requests
        if metric == Metric.TOKENS:
            return units - self.tokens - self.tokens_reserved
        return units - self.cost - self.cost_reserved

    def resets_at(self) -> dt.datetime | None:
        return clock.period_end(self.counter.period, self.start)


def take(standings: Iterable[Standing], *, requests: int, tokens_reserved: int, cost_reserved: int) -> list[Charge]:
    """Write what a reservation takes on its counters, locked already (`lock_counters`), in one statement,
    and return the charges to settle later."""
    ordered = sorted(standings, key=lambda s: s.counter.pk)
    rows = [
        (s.counter.pk, s.start, s.requests + requests, s.tokens, s.cost, s.tokens_reserved + tokens_reserved,
         s.cost_reserved + cost_reserved)
        for s in ordered
    ]  # fmt: skip
    _write_counters(
        rows,
        "start = v.start, requests = v.requests, tokens = v.tokens, cost = v.cost, "
        "tokens_reserved = v.tokens_reserved, cost_reserved = v.cost_reserved",
        lock=False,
    )
    return [Charge(s.counter.pk, s.start, requests, tokens_reserved, cost_reserved) for s in ordered]


def settle_charges(charges: Iterable[Charge], *, tokens: int | None, cost: int = 0) -> None:
    """Release what each charge set aside and add what the request used (`tokens`, `cost`); or, with
    `tokens` None (a failed request), give its request back too. Only in the charge's own period: a counter
    that has moved on to the next one is left alone. One statement, which locks the counters in id order."""
    rows = _charge_rows(charges)
    if tokens is None:
        _write_counters(rows, f"{_RELEASE}, requests = {at_least_zero('c.requests - v.requests')}", lock=True)
    else:
        _write_counters(rows, f"{_RELEASE}, tokens = c.tokens + %s, cost = c.cost + %s", (tokens, cost), lock=True)


def release_charges(charges: Iterable[Charge]) -> None:
    """Release what the charges set aside, and nothing else (their requests ended without a settlement of
    their own: an administrator's reset, their user deleted)."""
    _write_counters(_charge_rows(charges), _RELEASE, lock=True)


def _charge_rows(charges: Iterable[Charge]) -> list[tuple]:
    # One row a counter: a charge on it per lease (an administrator's reset ends several), summed.
    summed: dict[tuple[int, dt.datetime], list[int]] = {}
    for c in charges:
        row = summed.setdefault((c.counter_id, c.start), [0, 0, 0])
        row[0] += c.requests
        row[1] += c.tokens_reserved
        row[2] += c.cost_reserved
    return [(counter_id, start, *amounts) for (counter_id, start), amounts in sorted(summed.items())]


_RELEASE = "tokens_reserved = {tokens}, cost_reserved = {cost}"
_COLUMNS = {
    7: ("id", "start", "requests", "tokens", "cost", "tokens_reserved", "cost_reserved"),
    5: ("id", "start", "requests", "tokens_reserved", "cost_reserved"),
}
_PG_TYPES = {"id": "bigint", "start": "timestamptz"}


def _write_counters(rows: list[tuple], assignments: str, more: tuple = (), *, lock: bool) -> None:
    """One UPDATE of the counters named by `rows` (id and start first: a row matches only a counter still
    in that period), setting `assignments` from their values (`v.<column>`), their own (`c.<column>`) and
    the parameters `more`. The SQL is made of this module's constants only; every value is a parameter.

    One statement for every counter, where the ORM would take one each (they were the most statements a
    request with limits made). `lock`: the counters are not locked yet in this transaction: the statement
    locks them first, in the order of their ids (on PostgreSQL; SQLite's write lock is the database's), as
    every transaction takes them, since an UPDATE of several rows would lock them in the table's order."""
    if not rows:
        return
    columns = _COLUMNS[len(rows[0])]
    table = connection.ops.quote_name(Counter._meta.db_table)
    pg = connection.vendor == "postgresql"
    cast = (lambda column: f"%s::{_PG_TYPES.get(column, 'bigint')}") if pg else (lambda column: "%s")
    one = "(" + ", ".join(cast(column) for column in columns) + ")"
    params = []
    for row in rows:
        params.extend((row[0], connection.ops.adapt_datetimefield_value(row[1]), *row[2:]))
    assignments = assignments.format(
        tokens=at_least_zero("c.tokens_reserved - v.tokens_reserved"),
        cost=at_least_zero("c.cost_reserved - v.cost_reserved"),
    )
    values = f"v({', '.join(columns)}) AS (VALUES {', '.join([one] * len(rows))})"
    params.extend(more)
    # Made of this module's constants and the table's quoted name only; every value is a parameter.
    where = "c.id = v.id"
    if lock and pg:
        locked = f"SELECT c.id FROM {table} c JOIN v ON c.id = v.id ORDER BY c.id FOR UPDATE OF c"  # noqa: S608
        values += f", locked AS MATERIALIZED ({locked})"
        where += " AND c.id IN (SELECT id FROM locked)"
    if lock:
        where += " AND c.start = v.start"
    sql = f"WITH {values} UPDATE {table} AS c SET {assignments} FROM v WHERE {where}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@dataclasses.dataclass(frozen=True)
class Reading:
    """Where a holder stands on one limit now: for /api/quota/ and the admin."""

    limit: Applied
    used: int
    reserved: int
    remaining: int
    resets_at: dt.datetime | None


def readings(holders: Holders) -> list[Reading]:
    """Every limit in force for these holders, with what is used and reserved in its current period."""
    limits = limits_for(holders)
    now = timezone.now()
    where = Q()
    for scope, period in counter_keys(limits):
        where |= Q(**{f"{scope}_id": holders.id_of(scope)}, period=period)
    counters = {}
    if limits:
        for row in Counter.objects.filter(where):
            scope = "user" if row.user_id is not None else "api_key" if row.api_key_id is not None else "team"
            counters[(scope, row.period)] = row
    result = []
    for limit in sorted(limits, key=lambda a: (SCOPES.index(a.scope), a.metric, _PERIOD_ORDER[a.period])):
        counter = counters.get((limit.scope, limit.period))
        if counter is None:
            counter = Counter(period=limit.period)
        standing = Standing.of(counter, now)
        used = {"requests": standing.requests, "tokens": standing.tokens, "cost": standing.cost}[limit.metric]
        reserved = {"requests": 0, "tokens": standing.tokens_reserved, "cost": standing.cost_reserved}[limit.metric]
        start = clock.period_start(limit.period, now)
        result.append(
            Reading(limit, used, reserved, max(0, limit.units - used - reserved), clock.period_end(limit.period, start))
        )
    return result


_PERIOD_ORDER = {period: index for index, period in enumerate(Period.values)}


def readings_of_holder(holders: Holders, scope: str) -> list[Reading]:
    """The readings of one holder's own limits (the admin's page of a user, key or team)."""
    return [reading for reading in readings(holders) if reading.limit.scope == scope]
