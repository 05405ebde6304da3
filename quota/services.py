"""Reserving, settling and refunding a user's daily requests and tokens, exactly, in the database.

A request takes one request and, where a token limit applies, a completion budget (its `max_tokens`,
capped to what is left after the budgets of requests already in flight) when it starts. When it
ends, the budget is released and the tokens it really used are added (`settle_request`), or, when
it failed, everything is given back (`refund_request`). So a user can pass a daily token limit only
by the prompts of the requests in flight at the time; a request limit is never passed.

Each reservation is a lease (quota.models.Lease), and whoever deletes the lease applies the settlement
in the same transaction: the request's own process, or another one once the request is lost
(quota.leases). A reservation is settled once, however many try.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from core import metrics
from core.sql import at_least_zero, insert_row
from quota import clock, leases
from quota.exceptions import ModelNotPriced, QuotaExceeded, UserGone
from quota.limits import (
    SCOPES,
    Applied,
    Charge,
    Holders,
    Pricing,
    Reading,
    Standing,
    counter_keys,
    ensure_counters,
    forget_counters,
    limits_for,
    lock_counters,
    readings,
    release_charges,
    settle_charges,
    take,
)
from quota.models import Lease, Metric, Plan, Quota
from quota.signals import lease_lost
from teams.services import team_for_request


@dataclasses.dataclass(frozen=True)
class Allowance:
    """Where a user stands after a reservation: what the rate-limit headers tell the client."""

    request_limit: int
    requests_remaining: int
    token_limit: int | None  # None: no token limit applies
    tokens_remaining: int | None
    resets_in: int  # whole seconds until the binding request limit's counts start afresh
    tokens_resets_in: int | None = None  # the binding token limit's (None: as `resets_in`)
    cost_limit: int | None = None  # nano-units of CHATGATEWAY_CURRENCY; None: no cost limit applies
    cost_remaining: int | None = None
    cost_resets_in: int | None = None  # None: never (a total) or no cost limit


@dataclasses.dataclass(frozen=True)
class Reservation:
    """One request taken from `user_id`'s allowance for `day`, with `token_budget` completion
    tokens set aside (None: no token limit applies, nothing set aside)."""

    user_id: int
    day: dt.date
    token_budget: int | None
    allowance: Allowance
    lease_id: uuid.UUID | None = None  # None: an outbox entry from before leases (relay/outbox.py)
    counts_request: bool = True  # False: it took no request, only tokens (an embeddings call, by a setting)
    charges: tuple[Charge, ...] = ()  # what it took on the counters of its key's, user's and team's limits
    cost_reserved: int = 0  # nano-units set aside on those counters: its worst case

    def settled(self, *, tokens: int, cost: int = 0) -> Allowance:
        """Where the user stands once this request is settled with `tokens` used, costing `cost`: its
        budgets given back and its use counted. Worked out from the allowance at reservation, so that an
        answer's rate-limit headers are true after it without reading the counts again (what other
        requests reserved or settled meanwhile is not seen)."""
        allowance = self.allowance
        if allowance.tokens_remaining is not None:
            remaining = allowance.tokens_remaining + (self.token_budget or 0) - tokens
            allowance = dataclasses.replace(allowance, tokens_remaining=remaining)
        if allowance.cost_remaining is not None:
            allowance = dataclasses.replace(
                allowance, cost_remaining=allowance.cost_remaining + self.cost_reserved - cost
            )
        return allowance


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
    limits: tuple[Reading, ...] = ()  # the other limits in force: the key's, the user's or plan's, the team's
    currency: str = ""


def reserve_request(
    *,
    user_id: int,
    completion_tokens: int | None = None,
    note: dict[str, Any] | None = None,
    budget_must_fit: bool = False,
    counts_request: bool = True,
    api_key_id: int | None = None,
    team_id: int | None = None,
    pricing: Pricing | None = None,
    model: str = "",
    answers: int = 1,
) -> Reservation:
    """Take one request, and under a token or cost limit a budget of up to `completion_tokens` (default
    CHATGATEWAY_COMPLETION_RESERVE), from every limit in force: the user's daily ones, and the limits of
    their API key (`api_key_id`), of the user or their plan, and of their team (`team_id`), over each
    limit's current period; as a lease held by this process (`note`: what the request is, for the record
    if it is lost); or raise QuotaExceeded, naming the limit.

    Under a cost limit the worst case is reserved: the estimated prompt and the whole budget at `pricing`'s
    prices (the budget lowered to what the money left pays for); a request for a `model` without a price
    is refused then (ModelNotPriced).

    `answers`: how many answers share the budget (`n`, a legacy completion's prompts times `best_of`); each
    gets at least a token, so less than that left refuses the request.

    `budget_must_fit`: the whole budget must fit what is left, else QuotaExceeded (an embeddings call
    reserves its estimated prompt, which it can't be cut short of). `counts_request=False` takes tokens
    only, not a request (a blocked user, whose request limit is 0, is still refused).

    A user who would be refused while leases of lost requests hold their allowance (or, refused by their
    team's limit, the team's) gets those back first (quota.leases), and is asked again.
    """
    holders = Holders(user_id, api_key_id, team_id)
    terms = _Terms(completion_tokens, note, budget_must_fit, counts_request, pricing, model, max(1, answers))
    try:
        try:
            return _reserve(holders, terms)
        except QuotaExceeded as refused:
            # A team's counters are held by its other members' leases too: theirs may be the lost ones.
            by_team = refused.applied is not None and refused.applied.scope == "team"
            if not leases.reap_lost_leases(user_id=user_id, team_id=team_id if by_team else None):
                raise
        return _reserve(holders, terms)
    except QuotaExceeded as refused:
        metrics.quota_refused("blocked" if refused.blocked else refused.kind)  # once per refused request
        raise


@dataclasses.dataclass(frozen=True)
class _Terms:
    completion_tokens: int | None
    note: dict[str, Any] | None
    budget_must_fit: bool = False
    counts_request: bool = True
    pricing: Pricing | None = None
    model: str = ""
    least: int = 1  # the smallest budget worth reserving: a token for each of the request's answers


class _CountersGone(Exception):
    """A counter made for this reservation went before its transaction could lock it."""


def _reserve(holders: Holders, terms: _Terms) -> Reservation:
    """The user's row is read under a lock and written in the same transaction, with the counters of the
    other limits in force and the lease, so concurrent requests from any number of processes queue on those
    rows and can never take more than the limits. A single conditional UPDATE would do for the request
    count alone, but the budget depends on what is left, which the UPDATE could not report back. A row still
    on an earlier day (a counter on an earlier period) starts afresh here (no reset has to have run); one
    already on a later one (another host's clock passed midnight first) is counted as it stands: a period
    never moves backwards. A user deleted meanwhile has no row to lock, and the lease naming them can't be
    written: UserGone.

    The limits are read, and their missing counters made, before the transaction (quota.limits): a change
    of limits applies from the next request."""
    try:
        limits = limits_for(holders)
        keys = counter_keys(limits)
        ensure_counters(holders, keys)
        try:
            return _reserve_in_transaction(holders, terms, limits)
        except _CountersGone:
            forget_counters()  # a holder deleted meanwhile, or a rolled-back test: make them again, once
            ensure_counters(holders, keys)
            return _reserve_in_transaction(holders, terms, limits)
    except (IntegrityError, _CountersGone):  # the lease (or a row) names a user or key deleted since
        raise UserGone from None


def _reserve_in_transaction(holders: Holders, terms: _Terms, limits: list[Applied]) -> Reservation:
    user_id = holders.user_id
    today = clock.today()
    with transaction.atomic():
        quota = _locked_quota(user_id)
        if quota is None:
            # A user made without the signal (bulk_create, raw SQL): give them the default first.
            Quota.objects.get_or_create(user_id=user_id)
            quota = Quota.objects.select_related("plan").select_for_update(of=("self",)).get(user_id=user_id)
        counters = lock_counters(holders, counter_keys(limits))  # after the quota row, in the order of their ids
        if counters is None:
            raise _CountersGone
        now = timezone.now()
        standings = {key: Standing.of(counter, now) for key, counter in counters.items()}
        ordered = sorted(limits, key=lambda limit: SCOPES.index(limit.scope))
        daily = _Daily(quota, today, ordered, standings)
        taking = 1 if terms.counts_request else 0
        # A request limit of 0 blocks the user, whether or not this call takes a request.
        if daily.request_limit == 0 or (taking and daily.used >= daily.request_limit):
            daily.refuse("requests")
        for limit in ordered:
            standing = standings[(limit.scope, limit.period)]
            if limit.units == 0 or (limit.metric == Metric.REQUESTS and taking and standing.requests >= limit.units):
                daily.refuse_by(limit, standing)
        budget, cost_reserved = _budget(terms, daily, ordered, standings)
        day = max(quota.day or today, today)
        taken_sql = f"UPDATE {_table(Quota)} SET used = %s, tokens_used = %s, tokens_reserved = %s, day = %s"  # noqa: S608
        _execute(
            f"{taken_sql} WHERE user_id = %s",
            (daily.used + taking, daily.tokens_used, daily.reserved + (budget or 0), _date(day), quota.pk),
        )
        charges = take(standings.values(), requests=taking, tokens_reserved=budget or 0, cost_reserved=cost_reserved)
        taken = timezone.now()
        lease_id = uuid.uuid4()
        insert_row(Lease, {
            "id": lease_id, "user_id": user_id, "day": day, "token_budget": budget, "owner": leases.this_process(),
            "taken": taken, "expires": leases.expiry(taken),
            "note": {**(terms.note or {}), **({} if taking else {"counts_request": False})},
            "charges": [charge.as_json() for charge in charges],
        })  # fmt: skip
    allowance = _allowance(daily, ordered, standings, taking=taking, budget=budget, cost_reserved=cost_reserved)
    return Reservation(
        user_id=user_id, day=day, token_budget=budget, allowance=allowance, lease_id=lease_id,
        counts_request=bool(taking), charges=tuple(charges), cost_reserved=cost_reserved,
    )  # fmt: skip


@dataclasses.dataclass
class _Daily:
    """Where the user stands as a reservation is decided: their daily counts (their quota row's) as they
    stand today, and the other limits in force with their counters' standings. It refuses, naming the limit."""

    quota: Quota
    today: dt.date
    limits: list[Applied]
    standings: dict[tuple[str, str], Standing]

    def __post_init__(self) -> None:
        q, today = self.quota, self.today
        self.used, self.tokens_used, self.reserved = (
            q.used_on(today),
            q.tokens_used_on(today),
            q.tokens_reserved_on(today),
        )
        self.request_limit, self.token_limit = q.request_limit(), q.token_limit()

    def allowance(self) -> Allowance:
        """The binding limit of each metric as things stand (nothing taken): a refusal's headers."""
        return _allowance(self, self.limits, self.standings, taking=0, budget=None, cost_reserved=0)

    def refuse(self, kind: str, *, held: bool = False) -> None:
        """By a daily field: `held`, by what requests in flight have set aside (it will pass)."""
        limit = self.request_limit if kind == "requests" else self.token_limit
        applied = Applied("user", kind, "day", limit) if held else None
        raise QuotaExceeded(
            kind=kind, limit=limit, resets_at=clock.next_reset(), allowance=self.allowance(), applied=applied, held=held
        )

    def refuse_by(self, limit: Applied, standing: Standing, *, held: bool = False) -> None:
        """By a limit of the key, the user or plan, or the team."""
        raise QuotaExceeded(
            kind=limit.metric, limit=limit.units, resets_at=standing.resets_at(), allowance=self.allowance(),
            applied=limit, held=held,
        )  # fmt: skip


def _budget(
    terms: _Terms, daily: _Daily, limits: list[Applied], standings: dict[tuple[str, str], Standing]
) -> tuple[int | None, int]:
    """The completion budget (None: no token or cost limit applies) and the money reserved with it, or
    QuotaExceeded for the first limit that leaves too little (ModelNotPriced: a cost limit, no price)."""
    wanted = terms.completion_tokens or settings.CHATGATEWAY_COMPLETION_RESERVE
    caps: list[int] = []

    def fits(cap: int | None) -> bool:
        # Each of the request's answers gets at least a token of the budget: `least` of them in all.
        return cap is None or (cap >= terms.least and not (terms.budget_must_fit and wanted > cap))

    if daily.token_limit is not None:
        cap = daily.token_limit - daily.tokens_used - daily.reserved
        if not fits(cap):
            daily.refuse("tokens", held=fits(daily.token_limit - daily.tokens_used))
        caps.append(cap)
    pricing = terms.pricing
    for limit in limits:
        standing = standings[(limit.scope, limit.period)]
        if limit.metric == Metric.TOKENS:
            cap = standing.remaining(Metric.TOKENS, limit.units)
            if not fits(cap):
                daily.refuse_by(limit, standing, held=fits(cap + standing.tokens_reserved))
        elif limit.metric == Metric.COST:
            if pricing is None:
                raise ModelNotPriced(model=terms.model)
            left = standing.remaining(Metric.COST, limit.units)
            cap = pricing.tokens_for(left)  # None: output costs nothing, and the prompt is all the money bounds
            if left < max(1, pricing.prompt_cost) or not fits(cap):
                unheld = left + standing.cost_reserved
                daily.refuse_by(
                    limit, standing, held=unheld >= max(1, pricing.prompt_cost) and fits(pricing.tokens_for(unheld))
                )
            if cap is None:
                continue
        else:
            continue
        caps.append(cap)
    budget = min([wanted, *caps]) if caps else None
    cost_reserved = pricing.cost_of(budget) if pricing is not None and standings else 0
    return budget, cost_reserved


def _allowance(
    daily: _Daily,
    limits: list[Applied],
    standings: dict[tuple[str, str], Standing],
    *,
    taking: int,
    budget: int | None,
    cost_reserved: int,
) -> Allowance:
    """The binding limit of each metric (the one with the least left) once this reservation is taken: what
    the rate-limit headers report."""
    requests = [(daily.request_limit, daily.request_limit - daily.used - taking, clock.seconds_until_reset())]
    tokens = []
    if daily.token_limit is not None:
        left = daily.token_limit - daily.tokens_used - daily.reserved - (budget or 0)
        tokens.append((daily.token_limit, left, clock.seconds_until_reset()))
    cost = []
    for limit in limits:
        standing = standings[(limit.scope, limit.period)]
        resets_in = clock.seconds_until(standing.resets_at())
        if limit.metric == Metric.REQUESTS:
            requests.append((limit.units, limit.units - standing.requests - taking, resets_in))
        elif limit.metric == Metric.TOKENS:
            tokens.append((limit.units, standing.remaining(Metric.TOKENS, limit.units) - (budget or 0), resets_in))
        else:
            cost.append((limit.units, standing.remaining(Metric.COST, limit.units) - cost_reserved, resets_in))
    request_limit, requests_remaining, resets_in = min(requests, key=lambda item: item[1])
    allowance = Allowance(
        request_limit=request_limit, requests_remaining=requests_remaining, token_limit=None,
        tokens_remaining=None, resets_in=resets_in or clock.seconds_until_reset(),
    )  # fmt: skip
    if tokens:
        token_limit, tokens_remaining, tokens_resets_in = min(tokens, key=lambda item: item[1])
        allowance = dataclasses.replace(
            allowance, token_limit=token_limit, tokens_remaining=tokens_remaining, tokens_resets_in=tokens_resets_in
        )
    if cost:
        cost_limit, cost_remaining, cost_resets_in = min(cost, key=lambda item: item[1])
        allowance = dataclasses.replace(
            allowance, cost_limit=cost_limit, cost_remaining=cost_remaining, cost_resets_in=cost_resets_in
        )
    return allowance


def settle_request(*, reservation: Reservation, tokens: int, cost: int = 0, savepoint: bool = True) -> bool:
    """The request counts: release its budgets and add the `tokens` it used and its `cost` (nano-units),
    (`savepoint=False`: in the caller's transaction, which must roll back whole if this returns False)
    in the periods it was reserved in only (a request in flight at midnight is not charged to the new
    day, nor one at the end of a month to the next). False if its lease was settled already (its request
    was taken for lost, or an administrator reset the user's counts): then nothing changes."""

    def count() -> None:
        released = at_least_zero("tokens_reserved - %s")
        _execute(
            f"UPDATE {_table(Quota)} SET tokens_reserved = {released}, tokens_used = tokens_used + %s "  # noqa: S608
            "WHERE user_id = %s AND day = %s",
            (reservation.token_budget or 0, tokens, reservation.user_id, _date(reservation.day)),
        )
        settle_charges(reservation.charges, tokens=tokens, cost=cost)

    return _settle(reservation.lease_id, count, savepoint=savepoint)


def refund_request(*, reservation: Reservation) -> bool:
    """Give back a reserved request and its budget (its relay failed); a no-op once its day has passed.
    False if its lease was settled already."""
    r = reservation
    return _settle(r.lease_id, lambda: _give_back(r.user_id, r.day, r.token_budget, r.counts_request, r.charges))


def settle_lost_lease(lease: Lease) -> bool:
    """Settle the lease of a lost request as failed: everything given back, and `lease_lost` sent in
    the same transaction (the relay records the loss). False if it was settled meanwhile."""
    counts_request = (lease.note or {}).get("counts_request", True)
    return _settle(
        lease.pk,
        lambda: _give_back(lease.user_id, lease.day, lease.token_budget, counts_request, charges_of(lease)),
        then=lambda: lease_lost.send(sender=Lease, lease=lease),
    )


class _SettledAlready(Exception):
    pass


def _settle(
    lease_id: uuid.UUID | None,
    write: Callable[[], None],
    *,
    then: Callable[[], Any] | None = None,
    savepoint: bool = True,
) -> bool:
    """`write` the quota row, then end the lease (whoever deletes it settles it), in one transaction;
    if the lease was ended already, the write is undone and False returned.

    The quota row first, then the counters of the other limits in the order of their ids, then the lease:
    the order in which a reservation (the row locked, then the counters, then its lease written), an
    administrator's reset and a user's deletion (quota/signals.py) take them too, so that no two of them
    ever wait on each other in a circle (PostgreSQL would abort one as a deadlock)."""
    try:
        # savepoint=False: inside a caller's transaction, which a False return must then roll back whole.
        with transaction.atomic(savepoint=savepoint):
            write()
            if not _end_lease(lease_id):
                raise _SettledAlready
            if then is not None:
                then()
    except _SettledAlready:
        return False
    return True


def _end_lease(lease_id: uuid.UUID | None) -> bool:
    """Delete the lease: whoever does settles it. An entry from before leases has none to delete.

    One plain DELETE: nothing refers to a lease and no signal listens for its deletion, so Django's deletion
    Collector (which looks for both, per call) would issue this same statement at several times the CPU."""
    if lease_id is None:
        return True
    pk = Lease._meta.pk
    with connection.cursor() as cursor:
        sql = f"DELETE FROM {_table(Lease)} WHERE {pk.column} = %s"  # noqa: S608
        cursor.execute(sql, (pk.get_db_prep_value(lease_id, connection),))
        return cursor.rowcount > 0


def _give_back(
    user_id: int, day: dt.date, token_budget: int | None, counts_request: bool = True, charges: tuple[Charge, ...] = ()
) -> None:
    given_back = f"used = {at_least_zero('used - %s')}, tokens_reserved = {at_least_zero('tokens_reserved - %s')}"
    _execute(
        f"UPDATE {_table(Quota)} SET {given_back} WHERE user_id = %s AND day = %s",  # noqa: S608
        (1 if counts_request else 0, token_budget or 0, user_id, _date(day)),
    )
    settle_charges(charges, tokens=None)


def charges_of(lease: Lease) -> tuple[Charge, ...]:
    return tuple(Charge.from_json(value) for value in lease.charges or ())


def _end_leases_without_settling(user_id: int) -> None:
    """End every lease of the user, releasing what they set aside on shared counters (their key's, their
    team's): their requests, when they end, change no count. The quota row is locked already, so none of
    them settles meanwhile; the counters before the leases, as everywhere (`_settle`)."""
    ended = list(Lease.objects.filter(user_id=user_id))
    release_charges([charge for lease in ended for charge in charges_of(lease)])
    Lease.objects.filter(pk__in=[lease.pk for lease in ended]).delete()


# The hot path's writes (a reservation's, a settlement's, a refund's) are plain SQL: the ORM's compiling of
# each statement cost about as much CPU as the database's work on it (issue 17). The same statements, on
# the same rows, in the same order; the SQL is made of this module's constants and quoted table names
# only, every value a parameter adapted as the model's field would (`_insert`, `_date`).


def _locked_quota(user_id: int) -> Quota | None:
    """The user's quota row with its plan, locked (`FOR UPDATE OF` the row alone, not the plan; SQLite's
    IMMEDIATE transaction holds the database's lock): what
    `Quota.objects.select_related("plan").select_for_update(of=("self",)).filter(user_id=…).first()`
    reads and builds, in the same one statement, without making and compiling that query each time."""
    quota_fields, plan_fields = Quota._meta.concrete_fields, Plan._meta.concrete_fields
    q, p = _table(Quota), _table(Plan)
    columns = ", ".join(
        [f"{q}.{connection.ops.quote_name(f.column)}" for f in quota_fields]
        + [f"{p}.{connection.ops.quote_name(f.column)}" for f in plan_fields]
    )
    lock = f" FOR UPDATE OF {q}" if connection.features.has_select_for_update_of else ""
    sql = f"SELECT {columns} FROM {q} LEFT OUTER JOIN {p} ON ({q}.plan_id = {p}.id) WHERE {q}.user_id = %s{lock}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, (user_id,))
        row = cursor.fetchone()
    if row is None:
        return None
    quota = Quota.from_db(connection.alias, None, row[: len(quota_fields)])
    plan = None if quota.plan_id is None else Plan.from_db(connection.alias, None, row[len(quota_fields) :])
    Quota._meta.get_field("plan").set_cached_value(quota, plan)
    return quota


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _date(day: dt.date) -> Any:
    return connection.ops.adapt_datefield_value(day)


def _execute(sql: str, params: tuple) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def reset_stale_counts() -> int:
    """Bring every row counted on an earlier day to today with nothing used. Idempotent."""
    today = clock.today()
    return Quota.objects.filter(day__lt=today).update(used=0, tokens_used=0, tokens_reserved=0, day=today)


def reset_today(*, user_ids: list[int]) -> int:
    """Give these users today's allowance afresh (an administrator's action), their requests in flight
    included: their leases are ended here, so those requests, when they end, change no count (their
    usage records are still written). A row already on a later day (another host's clock) keeps it.
    How many users were reset.

    Per user, one transaction that locks the quota row before it ends the leases, in the order every
    settlement takes them (`_settle`); with the row locked, no lease can be taken meanwhile."""
    today = clock.today()
    reset = 0
    for user_id in user_ids:
        with transaction.atomic():
            quota = Quota.objects.select_for_update().filter(user_id=user_id).first()
            if quota is None:
                continue
            _end_leases_without_settling(user_id)
            stale = quota.day is None or quota.day < today
            reset += Quota.objects.filter(pk=quota.pk).update(
                used=0, tokens_used=0, tokens_reserved=0, day=today if stale else quota.day
            )
    return reset


def end_leases_of_deleted_user(*, user_id: int) -> None:
    """A user is being deleted (in that deletion's transaction): lock their quota row, so that no
    reservation can take a lease meanwhile, then end their leases, before Django's deletion reaches
    either, and in the order settlements take them (`_settle`)."""
    Quota.objects.select_for_update().filter(user_id=user_id).exists()
    _end_leases_without_settling(user_id)


def quota_status(*, user_id: int, api_key_id: int | None = None, team_id: int | None = None) -> QuotaStatus:
    """Where the user stands today, and on every other limit in force for a request of theirs with that
    API key and team."""
    quota, _ = Quota.objects.select_related("plan").get_or_create(user_id=user_id)
    today = clock.today()
    return QuotaStatus(
        limits=tuple(readings(Holders(user_id, api_key_id, team_id))),
        currency=settings.CHATGATEWAY_CURRENCY,
        plan=quota.plan.name if quota.plan else None,
        daily_limit=quota.request_limit(),
        used_today=quota.used_on(today),
        remaining=quota.remaining_on(today),
        daily_token_limit=quota.token_limit(),
        tokens_used_today=quota.tokens_used_on(today),
        tokens_remaining=quota.tokens_remaining_on(today),
        resets_at=clock.next_reset(),
    )


def quota_status_of_request(
    *, user_id: int, api_key_id: int | None = None, key_team_id: int | None = None, team_asked: str | None = None
) -> QuotaStatus:
    """Where a request of this user, with this API key and naming this team, stands: the team it would draw
    on decided as a relay decides it (TeamNotAllowed for a team it may not)."""
    team = team_for_request(user_id=user_id, asked=team_asked, key_team_id=key_team_id)
    return quota_status(user_id=user_id, api_key_id=api_key_id, team_id=team.pk if team is not None else None)


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
        currency=settings.CHATGATEWAY_CURRENCY,
    )
