"""A request that ended while the database was gone, its end kept in the outbox, and whose process then
died before the outbox was written: its end is applied before anyone takes its lease for lost, so an
answer the client got counts as it ended rather than being refunded and recorded lost (docs/faults.md,
"Lost requests"). Here a process's death is a lease handed to one that has ended, as in
quota/tests/test_leases.py; relay/tests/test_a_killed_server_loses_no_reservation.py kills a real server."""

from __future__ import annotations

import datetime as dt
import errno
import os
import pathlib
import subprocess
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import used_today
from quota import leases
from quota.models import Lease
from relay import outbox
from relay.models import UsageRecord
from relay.services import RelayAttempt


def _held_by_a_process_that_has_ended() -> None:
    process = subprocess.Popen(["sleep", "30"])
    Lease.objects.update(owner=leases._owner_name(process.pid))
    process.kill()
    process.wait()


def _answered_while_the_database_was_gone(api, database_fails) -> None:
    assert api.post("/api/chat/", {"prompt": "hi"}, format="json").status_code == 200
    assert outbox.pending_count() == 1
    assert Lease.objects.count() == 1  # its settlement waits in the outbox with its record


@pytest.mark.django_db(transaction=True)
def test_the_outbox_of_a_dead_process_is_applied_before_its_request_is_taken_for_lost(api, user, database_fails):
    _answered_while_the_database_was_gone(api, database_fails)
    database_fails.undo()
    _held_by_a_process_that_has_ended()

    assert leases.reap_lost_leases() == 0  # nothing lost: the outbox settled it

    (record,) = UsageRecord.objects.filter(user=user)
    assert (record.status_code, record.error) == (200, "")
    assert used_today(user) == 1  # the answer counts, as it would have
    assert (Lease.objects.count(), outbox.pending_count()) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_request_whose_end_the_database_still_refuses_is_not_taken_for_lost(api, user, database_fails):
    _answered_while_the_database_was_gone(api, database_fails)
    _held_by_a_process_that_has_ended()

    assert leases.reap_lost_leases() == 0

    assert not UsageRecord.objects.filter(error=UsageRecord.LOST).exists()
    assert (Lease.objects.count(), outbox.pending_count()) == (1, 1)
    database_fails.undo()
    assert outbox.flush() == 1
    assert (UsageRecord.objects.get(user=user).status_code, used_today(user), Lease.objects.count()) == (200, 1, 0)


@pytest.mark.django_db(transaction=True)
def test_an_end_another_process_is_applying_now_is_left_to_it(api, user, database_fails, settings):
    _answered_while_the_database_was_gone(api, database_fails)
    database_fails.undo()
    _held_by_a_process_that_has_ended()
    (pending,) = settings.CHATGATEWAY_OUTBOX_DIR.glob("*.json")
    claimed = pending.rename(pending.with_name(f"{pending.name}.{os.getpid()}.claim"))  # a running process's claim

    assert leases.reap_lost_leases() == 0  # its flush can't take the claimed file: it is held back, not lost

    assert (Lease.objects.count(), UsageRecord.objects.count()) == (1, 0)
    claimed.rename(pending)
    assert outbox.flush() == 1
    assert (UsageRecord.objects.get(user=user).status_code, Lease.objects.count()) == (200, 0)


def test_inside_a_transaction_the_outbox_is_not_written_but_its_requests_are_not_taken_for_lost(
    api, user, database_fails
):
    """A reservation's own retry runs outside any transaction; a caller's transaction could still be rolled
    back after the outbox's file was let go of, so there the entry only holds its request back."""
    _answered_while_the_database_was_gone(api, database_fails)
    database_fails.undo()
    _held_by_a_process_that_has_ended()

    assert leases.reap_lost_leases() == 0  # the test runs in a transaction

    assert (Lease.objects.count(), outbox.pending_count(), UsageRecord.objects.count()) == (1, 1, 0)


def test_a_lost_request_with_no_end_in_the_outbox_is_still_given_back(api, user, database_fails, settings):
    _answered_while_the_database_was_gone(api, database_fails)
    database_fails.undo()
    api.post("/api/chat/", {"prompt": "hi"}, format="json")  # settled as usual
    for entry in settings.CHATGATEWAY_OUTBOX_DIR.glob("*.json"):
        entry.unlink()  # as if the process had died before it wrote its end: the client had no answer
    _held_by_a_process_that_has_ended()

    assert leases.reap_lost_leases() == 1

    assert UsageRecord.objects.filter(error=UsageRecord.LOST).count() == 1


def test_an_end_held_past_its_leases_expiry_no_longer_holds_it(api, user, database_fails):
    """The lease's expiry bounds every reservation, this one too: an end that never lands can't hold a budget
    for good."""
    _answered_while_the_database_was_gone(api, database_fails)
    database_fails.undo()
    _held_by_a_process_that_has_ended()
    Lease.objects.update(expires=timezone.now() - dt.timedelta(seconds=1))

    assert leases.reap_lost_leases() == 1

    assert UsageRecord.objects.get(user=user).error == UsageRecord.LOST
    assert used_today(user) == 0


def test_a_claim_given_back_while_the_outbox_is_read_is_seen_either_way(
    api, user, database_fails, settings, monkeypatch
):
    """Another process's flush that meets an outage gives its claim back (a rename) at any moment; read
    between the pending files and the claims, the entry would be in neither, and its request taken for lost."""
    _answered_while_the_database_was_gone(api, database_fails)
    (pending,) = settings.CHATGATEWAY_OUTBOX_DIR.glob("*.json")
    claimed = pending.rename(pending.with_name(f"{pending.name}.{os.getpid()}.claim"))
    lease_id = Lease.objects.get().pk
    giving_back = threading.Thread(target=outbox._rename, args=(claimed, pending))
    glob = pathlib.Path.glob

    def glob_then_give_back(directory, pattern):
        found = list(glob(directory, pattern))
        if pattern == "*.json" and not giving_back.is_alive() and giving_back.ident is None:
            giving_back.start()  # right after the pending files were read
            giving_back.join(timeout=0.5)  # it waits for the reading to end
        return iter(found)

    monkeypatch.setattr(pathlib.Path, "glob", glob_then_give_back)
    held = outbox.still_held(frozenset({lease_id}), write=False)
    monkeypatch.undo()
    giving_back.join()

    assert held == {lease_id}
    assert pending.exists()  # given back once the reading was done


def test_an_outbox_that_cant_be_read_now_holds_its_requests_back_and_fails_no_request(
    api, user, settings, monkeypatch, caplog
):
    """The reap runs in a request about to be refused: an outbox that can't be read (here: no file descriptor
    left, as under a thousand streams) must not turn its 429 into a 500, nor give back a request whose end
    it may hold; the lease's expiry still bounds it."""
    RelayAttempt(user_id=user.pk, endpoint="v1", model="gpt-4o-mini", messages=[]).reserve(completion_tokens=10)
    _held_by_a_process_that_has_ended()
    settings.CHATGATEWAY_OUTBOX_DIR.mkdir(parents=True, exist_ok=True)

    def no_descriptor_left(*args, **kwargs):
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(outbox.os, "open", no_descriptor_left)
    assert leases.reap_lost_leases() == 0
    Lease.objects.update(expires=timezone.now() - dt.timedelta(seconds=1))
    assert leases.reap_lost_leases() == 1

    assert "can't be read" in caplog.text


def test_an_entry_takes_the_quota_row_before_it_writes_its_record(api, user, database_fails):
    """The order of a lost lease's settlement, which writes a record of the same id: the two never wait on
    each other in a circle."""
    _answered_while_the_database_was_gone(api, database_fails)
    database_fails.undo()

    with CaptureQueriesContext(connection) as applying:
        assert outbox.flush() == 1

    statements = [query["sql"] for query in applying.captured_queries]
    quota = next(n for n, sql in enumerate(statements) if sql.startswith('UPDATE "quota_quota"') or (
        "FOR UPDATE" in sql and '"quota_quota"' in sql))  # fmt: skip
    record = next(n for n, sql in enumerate(statements) if sql.startswith('INSERT INTO "relay_usagerecord"'))
    assert quota < record
