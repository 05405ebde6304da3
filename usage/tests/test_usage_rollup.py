"""The roll-up the dashboard reads (usage/rollup.py) agrees with the records, whenever they arrive or go."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from relay.models import UsageRecord
from relay.tests.records import record
from usage import dashboard, rollup
from usage.models import DailyUsage, DirtyDay


def a_record(user, *, day: dt.date, **fields) -> UsageRecord:
    """A record charged to `day`, inserted as the relay inserts one (no update afterwards)."""
    values = {"endpoint": "v1", "model": "gpt-4o-mini", "status_code": 200, "prompt_tokens": 10,
              "completion_tokens": 5, "total_tokens": 15, "latency_ms": 100, "currency": "USD", "cost": 7,
              **fields}  # fmt: skip
    return UsageRecord.objects.create(user=user, day=day, **values)


def raw_totals(days: int) -> dashboard.Totals:
    return dashboard.usage_totals(records=dashboard.Period.last_days(days).records())


def board_totals(days: int) -> dashboard.Totals:
    totals = dashboard.dashboard(days=days).totals
    return totals


@pytest.fixture
def three_days(make_user):
    ada, bob = make_user("ada"), make_user("bob")
    today = timezone.localdate()
    for back in range(3):
        a_record(ada, day=today - dt.timedelta(days=back))
        a_record(bob, day=today - dt.timedelta(days=back), status_code=502, error="upstream_error", cost=0)
    return ada, bob


def same(a: dashboard.Totals, b: dashboard.Totals) -> bool:
    return (a.requests, a.errors, a.total_tokens, a.cost, a.users) == (
        b.requests,
        b.errors,
        b.total_tokens,
        b.cost,
        b.users,
    )


def test_the_dashboard_agrees_with_the_records_once_rolled_up(three_days):
    call_command("rollup_usage")

    assert DailyUsage.objects.exists()
    assert rollup.state().last_id == UsageRecord.objects.latest("id").pk
    assert same(board_totals(30), raw_totals(30))
    assert board_totals(30).requests == 6


def test_a_record_that_arrives_late_counts_on_its_day_before_and_after_a_refresh(three_days):
    ada, _ = three_days
    call_command("rollup_usage")
    a_record(ada, day=timezone.localdate() - dt.timedelta(days=2), total_tokens=1000)  # the outbox, replaying

    assert board_totals(30).requests == 7
    assert dashboard.dashboard(days=30).days[-3].total_tokens == 1030

    call_command("rollup_usage")

    assert same(board_totals(30), raw_totals(30))
    assert dashboard.dashboard(days=30).days[-3].total_tokens == 1030


def test_a_deleted_record_leaves_the_totals_at_once(three_days):
    call_command("rollup_usage")
    UsageRecord.objects.filter(status_code=502).first().delete()

    assert DirtyDay.objects.exists()  # marked by the trigger, not by the code that deleted it
    assert board_totals(30).requests == 5
    rollup.refresh()
    assert not DirtyDay.objects.exists()
    assert same(board_totals(30), raw_totals(30))


def test_a_deleted_user_takes_their_usage_out_of_the_dashboard(three_days):
    _, bob = three_days
    call_command("rollup_usage")

    bob.delete()

    totals = board_totals(30)
    assert (totals.requests, totals.errors, totals.users) == (3, 0, 1)
    assert [row.label for row in dashboard.dashboard(days=30).top_users] == ["ada"]


def test_a_record_moved_to_another_day_is_counted_on_that_day(three_days):
    ada, _ = three_days
    call_command("rollup_usage")
    moved = record(ada, at=timezone.now() - dt.timedelta(days=10))  # made today, then moved (an update of `day`)

    days = dashboard.dashboard(days=30).days
    assert days[-11].requests == 1
    assert sum(day.requests for day in days) == 7
    assert moved.day == days[-11].day


def test_pruning_old_records_keeps_the_dashboard_exact(make_user):
    from usage.retention import prune_usage_records

    ada = make_user("ada")
    old = record(ada, at=timezone.now() - dt.timedelta(days=40))
    record(ada)
    call_command("rollup_usage")

    prune_usage_records(older_than=dt.timedelta(days=35))

    assert not UsageRecord.objects.filter(pk=old.pk).exists()
    assert board_totals(90).requests == 1


def test_a_user_s_month_reads_the_roll_up_and_the_records_after_it(three_days):
    ada, _ = three_days
    call_command("rollup_usage")
    a_record(ada, day=timezone.localdate())

    days = dashboard.usage_per_day(period=dashboard.Period.last_days(30), user_id=ada.pk)

    assert [day.requests for day in days[-3:]] == [1, 1, 2]


def test_a_change_of_currency_is_never_summed_with_the_old_one(three_days, settings):
    call_command("rollup_usage")
    settings.CHATGATEWAY_CURRENCY = "EUR"

    assert board_totals(30).cost == 0  # the records were charged in USD
    assert rollup.state().currency == "EUR"  # rebuilt lazily: the table is small
