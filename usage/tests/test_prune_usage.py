"""`prune_usage --older-than DAYS` deletes old usage records in batches; `--dry-run` only counts them."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from relay.models import UsageRecord
from usage.retention import prune_usage_records

NOW = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
TEN_DAYS = dt.timedelta(days=10)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def record(user: User, *, at: dt.datetime) -> UsageRecord:
    """A usage record of `user`, created at `at`."""
    with time_machine.travel(at, tick=False):
        return UsageRecord.objects.create(
            user=user, endpoint=UsageRecord.Endpoint.CHAT, model="gpt-4o-mini", status_code=200, latency_ms=120
        )


def kept() -> set[int]:
    return set(UsageRecord.objects.values_list("pk", flat=True))


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_usage", *args, stdout=out)
    return out.getvalue()


def test_it_deletes_exactly_the_old_records_a_batch_at_a_time(user, make_user, clock):
    bob = make_user("bob")
    for hours in range(5):  # everyone's, not one user's
        record(bob if hours % 2 else user, at=NOW - TEN_DAYS - dt.timedelta(hours=hours, seconds=1))
    on_the_cutoff = record(user, at=NOW - TEN_DAYS)
    recent = record(user, at=NOW - dt.timedelta(days=1))

    with CaptureQueriesContext(connection) as queries:
        deleted = prune_usage_records(older_than=TEN_DAYS, batch_size=2)

    assert deleted == 5
    assert kept() == {on_the_cutoff.pk, recent.pk}
    deletes = [query["sql"] for query in queries if query["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 2 + 2 + 1


def test_it_deletes_nothing_when_no_record_is_old_enough(user, clock):
    saved = record(user, at=NOW - TEN_DAYS)

    assert prune_usage_records(older_than=TEN_DAYS) == 0
    assert kept() == {saved.pk}


def test_the_command_says_how_many_it_deleted(user, clock):
    record(user, at=NOW - dt.timedelta(days=91))
    record(user, at=NOW - dt.timedelta(days=92))
    recent = record(user, at=NOW - dt.timedelta(days=89))

    output = prune("--older-than", "90")

    assert output == "Deleted 2 usage records older than 90 days.\n"
    assert kept() == {recent.pk}


def test_a_dry_run_deletes_nothing_and_says_how_many_would_go(user, clock):
    old = record(user, at=NOW - dt.timedelta(days=2))
    recent = record(user, at=NOW)

    output = prune("--older-than", "1", "--dry-run")

    assert output == "Would delete 1 usage record older than 1 day.\n"
    assert kept() == {old.pk, recent.pk}


@pytest.mark.parametrize("days", ["0", "-1", "36501"])
def test_the_command_refuses_a_number_of_days_out_of_range(db, days):
    with pytest.raises(CommandError, match="from 1 to 36,500"):
        prune("--older-than", days)


@pytest.mark.parametrize("args", [(), ("--older-than", "ninety"), ("--older-than", "1.5")])
def test_the_command_refuses_a_missing_or_unreadable_number_of_days(db, args):
    with pytest.raises(CommandError, match="older-than"):
        prune(*args)
