"""How long usage records are kept: old ones are deleted in batches, on an operator's command."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from relay.models import UsageRecord


def prune_usage_records(*, older_than: dt.timedelta, batch_size: int = 5000) -> int:
    """Delete the usage records created more than `older_than` ago, `batch_size` per DELETE; return how many."""
    # One DELETE per batch, each its own short transaction (ATOMIC_REQUESTS is off and no
    # transaction is opened here), so relays keep writing records while a large backlog goes.
    old = _usage_records_older_than(older_than).order_by()
    deleted = 0
    while ids := list(old.values_list("pk", flat=True)[:batch_size]):
        deleted += UsageRecord.objects.filter(pk__in=ids).delete()[0]
    return deleted


def count_usage_records_older_than(*, older_than: dt.timedelta) -> int:
    """How many usage records `prune_usage_records(older_than=…)` would delete now."""
    return _usage_records_older_than(older_than).count()


def _usage_records_older_than(older_than: dt.timedelta) -> QuerySet[UsageRecord]:
    # The cutoff is fixed once, so records written while the pruning runs are never among the old ones.
    return UsageRecord.objects.filter(created__lt=timezone.now() - older_than)
