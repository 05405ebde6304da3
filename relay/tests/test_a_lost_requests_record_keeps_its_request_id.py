"""A request its process lost (killed mid-request) is recorded by whoever reaps its lease (relay/lost.py),
with the request id it had, so the id in a client's or proxy's log still finds it."""

from __future__ import annotations

import subprocess

from core import requestid
from quota import leases
from quota.models import Lease
from relay.models import UsageRecord
from relay.services import RelayAttempt


def test_the_record_of_a_lost_request_has_its_request_id(user):
    token = requestid._current.set("lost-request-7")
    try:
        RelayAttempt(user_id=user.pk, endpoint="v1", model="gpt-4o-mini", messages=[]).reserve(completion_tokens=10)
    finally:
        requestid._current.reset(token)
    process = subprocess.Popen(["sleep", "30"])  # a process that then ends: the lease's owner, killed
    Lease.objects.update(owner=leases._owner_name(process.pid))
    process.kill()
    process.wait()

    assert leases.reap_lost_leases() == 1

    record = UsageRecord.objects.get(user=user)
    assert (record.error, record.request_id) == (UsageRecord.LOST, "lost-request-7")


def test_a_lost_request_costs_nothing(user, settings):
    settings.CHATGATEWAY_CURRENCY = "CNY"
    RelayAttempt(user_id=user.pk, endpoint="v1", model="gpt-4o-mini", messages=[]).reserve(completion_tokens=10)
    process = subprocess.Popen(["sleep", "30"])
    Lease.objects.update(owner=leases._owner_name(process.pid))
    process.kill()
    process.wait()

    assert leases.reap_lost_leases() == 1

    record = UsageRecord.objects.get(user=user)
    assert (record.error, record.cost, record.currency) == (UsageRecord.LOST, 0, "CNY")
