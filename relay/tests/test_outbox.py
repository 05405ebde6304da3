"""A relay whose database writes fail after the upstream answered: the client has its answer, and the
quota's settlement (or refund) and the usage record wait in the outbox until the database takes them.

Here the database "fails" by a patched write, in process; chatgateway/tests/test_database_outage.py
stops a real PostgreSQL server under a running gateway.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import time_machine
from django.utils import timezone

from conftest import used_today
from providers import catalog
from providers.models import Price
from relay import outbox
from relay.models import UsageRecord


def test_an_answer_whose_writes_fail_is_delivered_and_kept_in_the_outbox(api, user, database_fails):
    response = api.post("/api/chat/", {"prompt": "hi"}, format="json")

    assert response.status_code == 200
    assert UsageRecord.objects.count() == 0
    assert outbox.pending_count() == 1


def test_when_the_database_is_back_the_record_lands_with_its_time_and_the_tokens_are_settled(api, user, database_fails):
    asked_at = (timezone.now() + dt.timedelta(days=1)).replace(hour=9, minute=30)  # after the token was issued
    with time_machine.travel(asked_at, tick=True):
        answer = api.post("/api/chat/", {"prompt": "hi"}, format="json").json()
    database_fails.undo()

    with time_machine.travel(asked_at + dt.timedelta(minutes=5), tick=True):
        assert outbox.flush() == 1
        record = UsageRecord.objects.get(user=user)
        user.quota.refresh_from_db()
        tokens_used = user.quota.tokens_used_on(timezone.localdate())

    assert abs(record.created - asked_at) < dt.timedelta(seconds=5)
    assert (record.status_code, record.total_tokens) == (200, answer["usage"]["total_tokens"])
    assert tokens_used == answer["usage"]["total_tokens"]
    assert outbox.pending_count() == 0


def test_a_failed_relay_whose_refund_fails_gets_the_upstreams_error_and_is_refunded_later(api, user, database_fails):
    response = api.post("/api/chat/", {"prompt": "hi [dev:status=500]"}, format="json")

    assert response.status_code == 502
    assert used_today(user) == 1  # the reservation stands until the refund lands
    database_fails.undo()
    assert outbox.flush() == 1
    assert used_today(user) == 0
    assert UsageRecord.objects.get(user=user).error == "upstream_http_500"


def test_a_flush_while_the_database_still_fails_keeps_everything(api, user, database_fails):
    api.post("/api/chat/", {"prompt": "hi"}, format="json")

    assert outbox.flush() == 0
    assert outbox.pending_count() == 1
    assert UsageRecord.objects.count() == 0


def test_a_file_is_applied_once_however_many_flush_it(api, user, database_fails):
    api.post("/api/chat/", {"prompt": "hi"}, format="json")
    database_fails.undo()

    # Once in all: by these two flushes, or by the flusher the deferral started, if it came first (a loaded machine).
    assert outbox.flush() + outbox.flush() <= 1
    assert UsageRecord.objects.count() == 1


def test_a_claim_left_by_a_dead_process_is_taken_up_again(api, user, database_fails, settings):
    api.post("/api/chat/", {"prompt": "hi"}, format="json")
    database_fails.undo()
    (pending,) = settings.CHATGATEWAY_OUTBOX_DIR.glob("*.json")
    pending.rename(pending.with_name(f"{pending.name}.999999999.claim"))  # no such process

    assert outbox.flush() == 1
    assert UsageRecord.objects.count() == 1


def test_a_record_kept_in_the_outbox_lands_with_the_cost_it_was_charged(api, user, database_fails, settings):
    settings.CHATGATEWAY_CURRENCY = "EUR"
    Price.objects.filter(model_name="gpt-4o-mini").delete()
    Price.objects.create(model_name="gpt-4o-mini", input=Decimal(3), output=Decimal(5), valid_from=dt.date(2000, 1, 1))
    catalog.refresh()
    usage = api.post("/api/chat/", {"prompt": "hi"}, format="json").json()["usage"]
    Price.objects.filter(model_name="gpt-4o-mini").update(input=Decimal(100))  # changed before the flush
    catalog.refresh()
    database_fails.undo()

    assert outbox.flush() == 1

    record = UsageRecord.objects.get(user=user)
    assert (record.cost, record.currency) == (usage["prompt_tokens"] * 3000 + usage["completion_tokens"] * 5000, "EUR")
