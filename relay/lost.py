"""The record of a request whose server process ended before it did (killed, out of memory, its host
gone): quota.leases finds its lease lost, gives the reservation back as a failed call, and sends
`lease_lost` in that transaction; the record written here says that the gateway lost the request.

A request whose end its process had kept in the outbox (the database gone as it ended) was not lost:
the outbox of this host is applied before any of its requests is taken for lost, and one whose end
still waits there (the database still gone) is left to it. The lost record takes the reservation's id,
so if the request's own end turns up later all the same (another host's outbox, back after the lease
expired), this one stands and that one is skipped, as the quota's refund stands."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.dispatch import receiver
from django.utils import timezone

from quota.models import Lease
from quota.signals import lease_ends_held, lease_lost
from relay import outbox
from relay.models import UsageRecord

logger = logging.getLogger(__name__)

LOST_STATUS = 500  # the request ended in the gateway's failure; the client got no answer from it


@receiver(lease_ends_held, sender=Lease, dispatch_uid="relay-outbox-ends-before-lost")
def apply_the_outbox_before_taking_requests_for_lost(
    sender: type[Lease], lease_ids: frozenset[uuid.UUID], may_write: bool, **kwargs: Any
) -> set[uuid.UUID]:
    """A request whose end its process kept in the outbox (the database was gone as it ended) and which then
    died ended as the outbox says, its client perhaps with its answer: that end is applied first, and
    the request is not taken for lost while it waits."""
    return outbox.still_held(lease_ids, write=may_write)


@receiver(lease_lost, sender=Lease, dispatch_uid="relay-records-lost-requests")
def record_lost_request(sender: type[Lease], lease: Lease, **kwargs: Any) -> None:
    note = lease.note or {}
    fields = dict(
        user_id=lease.user_id,
        api_key_id=note.get("api_key_id"),
        team=str(note.get("team") or "")[:100],
        endpoint=str(note.get("endpoint") or UsageRecord.Endpoint.V1),
        stream=bool(note.get("stream")),
        model=str(note.get("model") or "")[:200],
        status_code=LOST_STATUS,
        latency_ms=max(0, round((timezone.now() - lease.taken).total_seconds() * 1000)),
        error=UsageRecord.LOST,
        cost=0,  # refunded as a failed call: nothing is charged
        currency=settings.CHATGATEWAY_CURRENCY,
        day=lease.day,
        reservation_id=lease.pk,
        request_id=str(note.get("request_id") or "")[:128],
    )
    try:
        with transaction.atomic():  # a savepoint: the refund stands even if the record can't be written
            record = _create(fields)
    except DatabaseError as exc:
        logger.error("the record of a lost request (user %s) was not written: %s", lease.user_id, type(exc).__name__)
        return
    UsageRecord.objects.filter(pk=record.pk).update(created=lease.taken)  # when it was asked, not now


def _create(fields: dict[str, Any]) -> UsageRecord:
    try:
        with transaction.atomic():
            return UsageRecord.objects.create(**fields)
    except DatabaseError:
        if fields["api_key_id"] is None:
            raise
        return UsageRecord.objects.create(**{**fields, "api_key_id": None})  # its key was deleted since
