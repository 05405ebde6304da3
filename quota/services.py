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
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from core import metrics
from quota import clock, leases
from quota.exceptions import QuotaExceeded, UserGone
from quota.models import Lease, Quota
from quota.signals import lease_lost


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
    lease_id: uuid.UUID | None = None  # None: an outbox entry from before leases (relay/outbox.py)
    counts_request: bool = True  # False: it took no request, only tokens (an embeddings call, by a setting)

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


def reserve_request(
    *,
    user_id: int,
    completion_tokens: int | None = None,
    note: dict[str, Any] | None = None,
    budget_must_fit: bool = False,
    counts_request: bool = True,
) -> Reservation:
    """Take one request, and under a token limit a budget of up to `completion_tokens` (default
    CHATGATEWAY_COMPLETION_RESERVE), from today's allowance, as a lease held by this process (`note`:
    what the request is, for the record if it is lost); or raise QuotaExceeded.

    `budget_must_fit`: the whole budget must fit what is left, else QuotaExceeded (an embeddings call
    reserves its estimated prompt, which it can't be cut short of). `counts_request=False` takes tokens
    only, not a request (a blocked user, whose request limit is 0, is still refused).

    A user who would be refused while leases of lost requests hold their allowance gets those back
    first (quota.leases), and is asked again.
    """
    terms = _Terms(completion_tokens, note, budget_must_fit, counts_request)
    try:
        try:
            return _reserve(user_id, terms)
        except QuotaExceeded:
            if not leases.reap_lost_leases(user_id=user_id):
                raise
        return _reserve(user_id, terms)
    except QuotaExceeded as refused:
        metrics.quota_refused("blocked" if refused.blocked else refused.kind)  # once per refused request
        raise


@dataclasses.dataclass(frozen=True)
class _Terms:
    completion_tokens: int | None
    note: dict[str, Any] | None
    budget_must_fit: bool = False
    counts_request: bool = True


def _reserve(user_id: int, terms: _Terms) -> Reservation:
    """The user's row is read under a lock and written in the same transaction, with the lease, so
    concurrent requests from any number of processes queue on that one row and can never take more
    than the limits. A single conditional UPDATE would do for the request count alone, but the
    budget depends on what is left, which the UPDATE could not report back. A row still on an earlier
    day starts afresh here (no reset has to have run); a row already on a later day (another host's
    clock passed midnight first) is counted as it stands: a day never moves backwards. A user deleted
    meanwhile has no row to lock, and the lease naming them can't be written: UserGone.
    """
    try:
        return _reserve_in_transaction(user_id, terms)
    except IntegrityError:  # the lease (or a new quota row) names a user deleted since they were authenticated
        raise UserGone from None


def _reserve_in_transaction(user_id: int, terms: _Terms) -> Reservation:
    today = clock.today()
    with transaction.atomic():
        quota = Quota.objects.select_related("plan").select_for_update(of=("self",)).filter(user_id=user_id).first()
        if quota is None:
            # A user made without the signal (bulk_create, raw SQL): give them the default first.
            Quota.objects.get_or_create(user_id=user_id)
            quota = Quota.objects.select_related("plan").select_for_update(of=("self",)).get(user_id=user_id)
        used, tokens_used, reserved = quota.used_on(today), quota.tokens_used_on(today), quota.tokens_reserved_on(today)
        request_limit, token_limit = quota.request_limit(), quota.token_limit()
        taking = 1 if terms.counts_request else 0
        # A request limit of 0 blocks the user, whether or not this call takes a request.
        if request_limit == 0 or (taking and used >= request_limit):
            _refuse("requests", request_limit, quota, today)
        budget = None
        if token_limit is not None:
            available = token_limit - tokens_used - reserved
            wanted = terms.completion_tokens or settings.CHATGATEWAY_COMPLETION_RESERVE
            if available <= 0 or (terms.budget_must_fit and wanted > available):
                _refuse("tokens", token_limit, quota, today)
            budget = min(wanted, available)
        day = max(quota.day or today, today)
        Quota.objects.filter(pk=quota.pk).update(
            used=used + taking, tokens_used=tokens_used, tokens_reserved=reserved + (budget or 0), day=day
        )
        taken = timezone.now()
        lease = Lease.objects.create(
            id=uuid.uuid4(), user_id=user_id, day=day, token_budget=budget, owner=leases.this_process(),
            taken=taken, expires=leases.expiry(taken),
            note={**(terms.note or {}), **({} if taking else {"counts_request": False})},
        )  # fmt: skip
    allowance = Allowance(
        request_limit=request_limit,
        requests_remaining=request_limit - used - taking,
        token_limit=token_limit,
        tokens_remaining=None if token_limit is None else token_limit - tokens_used - reserved - (budget or 0),
        resets_in=clock.seconds_until_reset(),
    )
    return Reservation(
        user_id=user_id, day=day, token_budget=budget, allowance=allowance, lease_id=lease.id,
        counts_request=bool(taking),
    )  # fmt: skip


def _refuse(kind: str, limit: int, quota: Quota, today: dt.date) -> None:
    allowance = Allowance(
        request_limit=quota.request_limit(),
        requests_remaining=quota.remaining_on(today),
        token_limit=quota.token_limit(),
        tokens_remaining=quota.tokens_remaining_on(today),
        resets_in=clock.seconds_until_reset(),
    )
    raise QuotaExceeded(kind=kind, limit=limit, resets_at=clock.next_reset(), allowance=allowance)


def settle_request(*, reservation: Reservation, tokens: int) -> bool:
    """The request counts: release its budget and add the `tokens` it used, on its own day only
    (a request in flight at midnight is not charged to the new day). False if its lease was settled
    already (its request was taken for lost, or an administrator reset the user's counts): then
    nothing changes."""

    def count() -> None:
        Quota.objects.filter(user_id=reservation.user_id, day=reservation.day).update(
            tokens_reserved=_released(reservation.token_budget), tokens_used=F("tokens_used") + tokens
        )

    return _settle(reservation.lease_id, count)


def refund_request(*, reservation: Reservation) -> bool:
    """Give back a reserved request and its budget (its relay failed); a no-op once its day has passed.
    False if its lease was settled already."""
    r = reservation
    return _settle(r.lease_id, lambda: _give_back(r.user_id, r.day, r.token_budget, r.counts_request))


def settle_lost_lease(lease: Lease) -> bool:
    """Settle the lease of a lost request as failed: everything given back, and `lease_lost` sent in
    the same transaction (the relay records the loss). False if it was settled meanwhile."""
    counts_request = (lease.note or {}).get("counts_request", True)
    return _settle(
        lease.pk,
        lambda: _give_back(lease.user_id, lease.day, lease.token_budget, counts_request),
        then=lambda: lease_lost.send(sender=Lease, lease=lease),
    )


class _SettledAlready(Exception):
    pass


def _settle(lease_id: uuid.UUID | None, write: Callable[[], None], *, then: Callable[[], Any] | None = None) -> bool:
    """`write` the quota row, then end the lease (whoever deletes it settles it), in one transaction;
    if the lease was ended already, the write is undone and False returned.

    The quota row first, then the lease: the order in which a reservation (the row locked, then its lease
    written), an administrator's reset and a user's deletion (quota/signals.py) take them too, so that no
    two of them ever wait on each other in a circle (PostgreSQL would abort one as a deadlock)."""
    try:
        with transaction.atomic():
            write()
            if not _end_lease(lease_id):
                raise _SettledAlready
            if then is not None:
                then()
    except _SettledAlready:
        return False
    return True


def _end_lease(lease_id: uuid.UUID | None) -> bool:
    """Delete the lease: whoever does settles it. An entry from before leases has none to delete."""
    return lease_id is None or Lease.objects.filter(pk=lease_id).delete()[0] > 0


def _give_back(user_id: int, day: dt.date, token_budget: int | None, counts_request: bool = True) -> None:
    Quota.objects.filter(user_id=user_id, day=day).update(
        used=Greatest(F("used") - (1 if counts_request else 0), Value(0)), tokens_reserved=_released(token_budget)
    )


def _released(token_budget: int | None) -> Greatest:
    return Greatest(F("tokens_reserved") - (token_budget or 0), Value(0))


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
            Lease.objects.filter(user_id=user_id).delete()
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
    Lease.objects.filter(user_id=user_id).delete()


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
