"""Usage records made directly, at any time, for the admin's tests."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from accounts.models import User
from relay.models import UsageRecord


def record(user: User, *, at: dt.datetime | None = None, **fields) -> UsageRecord:
    """A successful /v1 request of `user` (10 + 5 tokens), made `at` (default now)."""
    values = {"endpoint": "v1", "model": "gpt-4o-mini", "status_code": 200, "prompt_tokens": 10,
              "completion_tokens": 5, "total_tokens": 15, "latency_ms": 100, **fields}  # fmt: skip
    made = UsageRecord.objects.create(user=user, **values)
    if at is not None:
        # `created` is auto_now_add: it can only be moved afterwards.
        UsageRecord.objects.filter(pk=made.pk).update(created=at, day=timezone.localdate(at))
        made.refresh_from_db()
    return made
