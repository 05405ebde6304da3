"""Every reservation is a lease held by the process serving the request: settled once, by whoever ends
it first; given back when its process is gone or it has expired; ended by an administrator's reset."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from quota import leases
from quota.exceptions import QuotaExceeded
from quota.models import Lease, Quota
from quota.services import refund_request, reserve_request, reset_today, settle_request


def _limited(make_user, username: str, requests: int):
    user = make_user(username)
    Quota.objects.filter(user=user).update(daily_limit=requests, daily_token_limit=10_000)
    return user


@pytest.fixture
def limited(make_user):
    return _limited(make_user, "ada", 2)


def _counts(user) -> tuple[int, int, int]:
    quota = Quota.objects.get(user=user)
    return quota.used, quota.tokens_used, quota.tokens_reserved


def _owner_of_a_process_that_has_ended() -> str:
    process = subprocess.Popen(["sleep", "30"])
    owner = leases._owner_name(process.pid)
    process.kill()
    process.wait()
    return owner


def test_a_reservation_is_a_lease_of_this_process_that_outlives_the_longest_request(limited, settings):
    before = timezone.now()
    reservation = reserve_request(user_id=limited.pk, completion_tokens=300, note={"model": "m"})

    lease = Lease.objects.get(pk=reservation.lease_id)
    assert (lease.user_id, lease.day, lease.token_budget) == (limited.pk, reservation.day, 300)
    assert lease.note == {"model": "m"}
    assert lease.owner == leases.this_process()
    assert not leases.owner_is_gone(lease.owner)
    longest_request = dt.timedelta(seconds=settings.CHATGATEWAY_MAX_REQUEST_SECONDS + settings.OPENAI_TIMEOUT)
    assert lease.expires - before > longest_request


def test_a_reservation_is_settled_once_however_many_try(limited):
    reservation = reserve_request(user_id=limited.pk, completion_tokens=300)

    assert settle_request(reservation=reservation, tokens=120)
    assert not settle_request(reservation=reservation, tokens=120)
    assert not refund_request(reservation=reservation)

    assert _counts(limited) == (1, 120, 0)
    assert not Lease.objects.exists()


def test_a_process_that_is_gone_is_told_from_one_whose_pid_was_reused():
    owner = _owner_of_a_process_that_has_ended()
    host, pid, started = owner.split(" ")

    assert leases.owner_is_gone(owner)
    assert leases.owner_is_gone(f"{host} {pid} {int(started) + 1}")  # the same pid, another process
    assert not leases.owner_is_gone(f"another-host {pid} {started}")  # only its lease's expiry tells


def test_a_user_refused_because_of_a_killed_processes_requests_gets_them_back_at_once(limited):
    for _ in range(2):
        reserve_request(user_id=limited.pk, completion_tokens=300)
    with pytest.raises(QuotaExceeded):
        reserve_request(user_id=limited.pk)

    Lease.objects.update(owner=_owner_of_a_process_that_has_ended())  # their server was killed
    reservation = reserve_request(user_id=limited.pk, completion_tokens=300)

    assert list(Lease.objects.values_list("pk", flat=True)) == [reservation.lease_id]
    assert _counts(limited) == (1, 0, 300)


def test_an_expired_lease_of_another_host_is_given_back_and_a_living_one_is_not(limited):
    expired = reserve_request(user_id=limited.pk, completion_tokens=300)
    living = reserve_request(user_id=limited.pk, completion_tokens=200)
    Lease.objects.update(owner="another-host 4242 1")
    Lease.objects.filter(pk=expired.lease_id).update(expires=timezone.now() - dt.timedelta(seconds=1))

    assert leases.reap_lost_leases() == 1

    assert list(Lease.objects.values_list("pk", flat=True)) == [living.lease_id]
    assert _counts(limited) == (1, 0, 200)
    assert not settle_request(reservation=expired, tokens=50), "its own process, if it was alive, changes nothing"
    assert _counts(limited) == (1, 0, 200)


def test_the_sweep_gives_back_every_lost_lease_and_only_those(make_user, limited):
    other = _limited(make_user, "bea", 5)
    lost = [reserve_request(user_id=user.pk, completion_tokens=100) for user in (limited, other, other)]
    kept = reserve_request(user_id=limited.pk, completion_tokens=100)
    Lease.objects.filter(pk__in=[r.lease_id for r in lost]).update(owner=_owner_of_a_process_that_has_ended())

    assert leases.reap_lost_leases() == 3

    assert _counts(limited) == (1, 0, 100)
    assert _counts(other) == (0, 0, 0)
    assert list(Lease.objects.values_list("pk", flat=True)) == [kept.lease_id]


def test_an_administrators_reset_ends_the_reservations_in_flight(limited):
    in_flight = [reserve_request(user_id=limited.pk, completion_tokens=4000) for _ in range(2)]

    reset_today(user_ids=[limited.pk])

    assert _counts(limited) == (0, 0, 0)
    assert not Lease.objects.exists()
    for reservation in in_flight:  # they end after the reset: the fresh counts stay fresh
        assert not settle_request(reservation=reservation, tokens=900)
    assert _counts(limited) == (0, 0, 0)
    assert reserve_request(user_id=limited.pk, completion_tokens=10_000).token_budget == 10_000


def test_a_lease_taken_while_a_reset_runs_keeps_its_budget(limited):
    old = reserve_request(user_id=limited.pk, completion_tokens=300)
    reset_today(user_ids=[limited.pk])
    new = reserve_request(user_id=limited.pk, completion_tokens=200)
    reset_today(user_ids=[])  # nothing

    assert not refund_request(reservation=old)
    assert refund_request(reservation=new)
    assert _counts(limited) == (0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_user_deleted_while_their_request_is_served_is_refused_as_their_token_would_be(make_user):
    from quota.exceptions import UserGone

    user = make_user()
    user_id = user.pk
    user.delete()  # after their request was authenticated

    with pytest.raises(UserGone) as refused:
        reserve_request(user_id=user_id)

    assert (refused.value.status, refused.value.code) == (401, "user_not_found")
    assert not Lease.objects.exists()
    assert not Quota.objects.filter(user_id=user_id).exists()


def _writes(queries) -> list[str]:
    """The statements that lock rows, in order: 'quota' or 'lease' for each."""
    order = []
    for query in queries.captured_queries:
        sql = query["sql"]
        if sql.startswith(("UPDATE", "DELETE")) or "FOR UPDATE" in sql:
            order.append("lease" if '"quota_lease"' in sql.split(" WHERE")[0] else "quota")
    return order


def test_settling_and_deleting_a_user_take_the_quota_row_before_the_lease(limited):
    """One lock order for everything that takes both (a reservation takes the row, then writes its lease),
    so that a settlement and an administrator deleting the user, or resetting their counts, can never wait
    on each other in a circle (PostgreSQL aborted one of them as a deadlock under the fault load)."""
    settled, refunded = (reserve_request(user_id=limited.pk, completion_tokens=10) for _ in range(2))
    with CaptureQueriesContext(connection) as settling:
        settle_request(reservation=settled, tokens=5)
    with CaptureQueriesContext(connection) as refunding:
        refund_request(reservation=refunded)
    reserve_request(user_id=limited.pk, completion_tokens=10)  # in flight through the reset
    with CaptureQueriesContext(connection) as resetting:
        reset_today(user_ids=[limited.pk])
    reserve_request(user_id=limited.pk, completion_tokens=10)  # in flight through the deletion
    with CaptureQueriesContext(connection) as deleting:
        limited.delete()

    assert _writes(settling) == ["quota", "lease"]
    assert _writes(refunding) == ["quota", "lease"]
    if connection.features.has_select_for_update:  # SQLite locks the whole database at a transaction's start
        assert _writes(resetting)[:2] == ["quota", "lease"]
        assert _writes(deleting)[:2] == ["quota", "lease"]


def test_a_settlement_that_finds_its_lease_ended_undoes_its_write(limited):
    reservation = reserve_request(user_id=limited.pk, completion_tokens=300)
    Lease.objects.all().delete()  # taken for lost by another process meanwhile (which gave it back)

    assert not settle_request(reservation=reservation, tokens=120)

    assert _counts(limited) == (1, 0, 300), "unchanged by the settlement that came too late"
