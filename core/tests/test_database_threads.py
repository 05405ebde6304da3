"""`in_db`: database steps of the async views, in the database threads or, under async_to_sync, the caller's."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync
from django.db import DatabaseError, transaction

from accounts.models import User
from core.db import in_db


def test_a_failed_step_leaves_the_callers_transaction_to_the_caller(user):
    def fail() -> None:
        raise DatabaseError("a constraint, say")

    with transaction.atomic():
        with pytest.raises(DatabaseError):
            async_to_sync(in_db)(fail)
        assert User.objects.filter(pk=user.pk).exists(), "the caller's connection and transaction still work"


def test_under_async_to_sync_a_step_runs_in_the_callers_thread(db):
    assert async_to_sync(in_db)(threading.get_ident) == threading.get_ident()


@pytest.mark.django_db(transaction=True)
def test_from_the_event_loop_a_step_runs_in_a_database_thread():
    name = asyncio.run(in_db(lambda: threading.current_thread().name))

    assert name.startswith("database")
