import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from quota.exceptions import QuotaExceeded
from quota.models import Quota
from quota.services import quota_status, refund_request, reserve_request

NOON = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_noon():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def test_it_grants_requests_until_the_limit_then_refuses(make_user):
    user = make_user(daily_limit=3)

    for _ in range(3):
        reserve_request(user_id=user.pk)
    with pytest.raises(QuotaExceeded) as refused:
        reserve_request(user_id=user.pk)

    assert refused.value.daily_limit == 3
    assert refused.value.retry_after == 12 * 3600
    assert quota_status(user_id=user.pk).used_today == 3


def test_a_refund_gives_the_request_back(make_user):
    user = make_user(daily_limit=1)
    reservation = reserve_request(user_id=user.pk)

    refund_request(reservation=reservation)

    assert quota_status(user_id=user.pk).remaining == 1
    reserve_request(user_id=user.pk)


def test_a_refund_after_midnight_leaves_the_new_days_count_alone(make_user, frozen_noon):
    user = make_user(daily_limit=5)
    yesterdays = reserve_request(user_id=user.pk)
    frozen_noon.shift(dt.timedelta(days=1))
    reserve_request(user_id=user.pk)

    refund_request(reservation=yesterdays)

    assert quota_status(user_id=user.pk).used_today == 1


def test_a_count_from_an_earlier_day_starts_afresh_without_any_reset(make_user, frozen_noon):
    user = make_user(daily_limit=2)
    reserve_request(user_id=user.pk)
    reserve_request(user_id=user.pk)
    frozen_noon.shift(dt.timedelta(days=1))

    reserve_request(user_id=user.pk)

    quota = Quota.objects.get(user=user)
    assert (quota.used, quota.day) == (1, timezone.localdate())


def test_a_zero_limit_refuses_everything(make_user):
    user = make_user(daily_limit=0)

    with pytest.raises(QuotaExceeded):
        reserve_request(user_id=user.pk)


def test_a_lowered_limit_refuses_at_once(make_user):
    user = make_user(daily_limit=5)
    for _ in range(3):
        reserve_request(user_id=user.pk)
    Quota.objects.filter(user=user).update(daily_limit=2)

    with pytest.raises(QuotaExceeded):
        reserve_request(user_id=user.pk)
    assert quota_status(user_id=user.pk).remaining == 0


def test_a_user_without_a_quota_row_gets_the_default(make_user, settings):
    settings.CHATGATEWAY_DAILY_LIMIT = 4
    user = make_user()
    Quota.objects.filter(user=user).delete()

    reserve_request(user_id=user.pk)

    assert quota_status(user_id=user.pk).daily_limit == 4


def test_a_granted_reservation_reads_its_row_under_a_lock_and_writes_it_and_its_lease_once(user):
    """The deterministic guard of exactness: the read and the writes happen in one transaction, the
    read locking the row (FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transaction locks the file),
    and the lease is taken in that same transaction.

    (The concurrency tests catch an unlocked read-modify-write only when racing requests meet.)
    """
    with CaptureQueriesContext(connection) as queries:
        reserve_request(user_id=user.pk)

    # Inside the test's own transaction, atomic() adds a savepoint around them. Before it, the limits in
    # force are read (none here: no counter to lock or write), through the process's cache: its stamp first,
    # and again before they are kept (in a transaction, the test's, that may have changed them).
    statements = [query["sql"] for query in queries.captured_queries if "SAVEPOINT" not in query["sql"]]
    stamp, limits, stamp_again, read, write, lease = statements
    assert "core_accessstamp" in stamp
    assert "core_accessstamp" in stamp_again
    assert 'FROM "quota_limit"' in limits
    assert "FOR UPDATE" not in limits
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in read
    assert write.startswith("UPDATE")
    assert lease.startswith('INSERT INTO "quota_lease"')


def test_a_host_whose_clock_lags_at_midnight_neither_resets_nor_rewinds_the_new_day(make_user, frozen_noon):
    """Two hosts share the database; one has passed midnight, the other is a few seconds behind."""
    from quota.services import reset_stale_counts

    user = make_user(daily_limit=2)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    Quota.objects.filter(user=user).update(used=2, day=tomorrow)  # the fast host's new day is used up

    reset_stale_counts()
    with pytest.raises(QuotaExceeded):
        reserve_request(user_id=user.pk)

    assert Quota.objects.filter(user=user).values_list("used", "day").get() == (2, tomorrow)
