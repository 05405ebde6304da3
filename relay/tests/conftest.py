"""Fixtures of the relay's tests."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from relay import outbox
from relay.models import UsageRecord


@pytest.fixture
def database_fails(monkeypatch):
    """The relay's writes after the upstream's answer fail, as when the database has just gone away."""

    def gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(UsageRecord.objects, "create", gone)
    monkeypatch.setattr("relay.services.settle_request", gone)
    monkeypatch.setattr("relay.services.refund_request", gone)
    monkeypatch.setattr(outbox, "start_flusher", lambda: None)  # these tests flush by hand
    return monkeypatch
