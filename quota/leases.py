"""Reservations whose request was lost: its server process killed (`kill -9`, out of memory), its host
gone, or a lease past its expiry for any other reason.

Every reservation is a `quota.models.Lease` held by the process serving the request, named by
`this_process()` ("host pid start-time", so that a pid the system has since given to another program
does not pass for the owner). A lease is lost when
- its owner ran on this host and is no longer running (seen at once), or
- it has expired: CHATGATEWAY_LEASE_SECONDS after it was taken, which is longer than any request may
  last (chatgateway/settings.py checks it), so a lease of a living request never expires. A lease of
  another host is known lost by its expiry only.
A request whose end its process had written aside before it died (the relay's outbox, when the database
was gone as it ended) is not lost: `quota.signals.lease_ends_held` has that end written first, and a
lease whose end still waits is left to it until the lease expires.

`reap_lost_leases` settles lost leases as failed (quota.services.settle_lost_lease: everything given
back, and `quota.signals.lease_lost` for the record that says so). It runs
- in every server process, every CHATGATEWAY_LEASE_SWEEP_SECONDS (`start_sweeper`, when the ASGI
  application is loaded: chatgateway/asgi.py), and
- for one user, when a reservation would be refused (quota.services.reserve_request): a user whose
  allowance is held by lost requests gets it back on their next request, not a sweep later; and, when a
  team's limit refuses it, for the team's members too (their lost requests hold the team's counters).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import threading
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from core import processes
from quota.models import Lease
from quota.signals import lease_ends_held

logger = logging.getLogger(__name__)

_sweeper: threading.Thread | None = None
_sweeper_lock = threading.Lock()


def this_process() -> str:
    """The owner name of this process's leases: "host pid start-time" (host: core.processes.this_host)."""
    return _owner_name(os.getpid())


@functools.cache
def _owner_name(pid: int) -> str:
    return f"{processes.this_host()} {pid} {processes.start_time(pid) or '-'}"


def owner_is_gone(owner: str) -> bool:
    """Whether `owner` was a process of this host that is no longer running. Another host's process
    is never known gone here: its leases end by their expiry."""
    host, _, rest = owner.partition(" ")
    pid_text, _, started = rest.partition(" ")
    if host != processes.this_host() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if not processes.is_running(pid):
        return True
    return started not in {"", "-"} and processes.start_time(pid) != started  # its pid names another process


def expiry(taken: dt.datetime) -> dt.datetime:
    return taken + dt.timedelta(seconds=settings.CHATGATEWAY_LEASE_SECONDS)


def lost_leases(*, user_id: int | None = None, team_id: int | None = None) -> list[Lease]:
    """The leases whose request is lost: expired, or held by a process of this host that is gone (of
    `user_id`, and of the members of `team_id`, if given)."""
    me = this_process()
    host = me.partition(" ")[0]
    candidates = Lease.objects.filter(
        Q(expires__lt=timezone.now()) | (Q(owner__startswith=f"{host} ") & ~Q(owner=me))
    ).order_by("taken")
    if user_id is not None or team_id is not None:
        whose = Q(user_id=user_id) if user_id is not None else Q()
        if team_id is not None:
            whose |= Q(user__memberships__team_id=team_id)
        candidates = candidates.filter(whose).distinct()
    gone: dict[str, bool] = {}
    now = timezone.now()
    lost = []
    for lease in candidates:
        if lease.owner not in gone:
            gone[lease.owner] = owner_is_gone(lease.owner)
        if gone[lease.owner] or lease.expires < now:
            lost.append(lease)
    return lost


def reap_lost_leases(*, user_id: int | None = None, team_id: int | None = None) -> int:
    """Settle every lost lease (of `user_id` and of `team_id`'s members only, if given) as a failed
    request; how many."""
    from quota.services import settle_lost_lease  # services imports this module

    lost = lost_leases(user_id=user_id, team_id=team_id)
    held, now = _ends_held(lost), timezone.now()
    # An end still held defers its request's loss up to the lease's expiry, the bound of every lease: an
    # end that never lands (or a claim whose pid names another process now) can't hold a budget for good.
    reaped = sum(settle_lost_lease(lease) for lease in lost if lease.pk not in held or lease.expires < now)
    if reaped:
        logger.warning("%d reservation(s) of lost requests given back (their server process ended)", reaped)
    return reaped


def _ends_held(lost: list[Lease]) -> set[uuid.UUID]:
    """Of the `lost` leases, those whose request's end its process wrote before it died, and which is still
    held on this host for the database (the relay's outbox: quota.signals.lease_ends_held), once whatever
    of it can be written now is. Such a request ended (its client may have its answer): its end settles
    it as it ended, where taking it for lost would refund it."""
    if not lost:
        return set()
    answers = lease_ends_held.send(
        sender=Lease, lease_ids=frozenset(lease.pk for lease in lost), may_write=not connection.in_atomic_block
    )
    return {lease_id for _, held in answers for lease_id in held or ()}


def start_sweeper(**kwargs: Any) -> None:
    """Reap lost leases every CHATGATEWAY_LEASE_SWEEP_SECONDS in this process (one thread; 0: none)."""
    global _sweeper
    if not settings.CHATGATEWAY_LEASE_SWEEP_SECONDS:
        return
    with _sweeper_lock:
        if _sweeper is None or not _sweeper.is_alive():
            _sweeper = threading.Thread(target=_sweep_forever, name="quota-lease-sweeper", daemon=True)
            _sweeper.start()


def _sweep_forever() -> None:
    while True:
        time.sleep(settings.CHATGATEWAY_LEASE_SWEEP_SECONDS)
        try:
            reap_lost_leases()
        except DatabaseError as exc:  # the database is away: the next sweep tries again
            logger.warning("lost reservations: the sweep failed (%s)", type(exc).__name__)
        except Exception:
            logger.exception("lost reservations: the sweep failed")
        finally:
            connection.close()  # this thread's own connection: none is held between sweeps
