"""A request that counts is settled and recorded in one transaction: a process that dies between the two
(the fault load's SIGKILL found it could) leaves neither, and its lease, still held, is taken for lost."""

from __future__ import annotations

import pytest

from quota.models import Lease, Quota
from relay import services
from relay.models import UsageRecord
from relay.services import RelayAttempt
from relay.upstream import Usage


class Killed(BaseException):
    """What a process's death looks like from inside it: nothing after runs, no handler catches it."""


@pytest.mark.django_db(transaction=True)
def test_a_death_between_the_settlement_and_the_record_leaves_neither(user, monkeypatch):
    attempt = RelayAttempt(
        user_id=user.pk, endpoint="v1", model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    attempt.reserve(completion_tokens=100)

    def die(**fields):
        raise Killed

    monkeypatch.setattr(services.UsageRecord, "insert", die)  # the relay's write of the record
    with pytest.raises(Killed):
        attempt.succeed(usage=Usage(10, 5, 15), answer="hello")

    quota = Quota.objects.get(user=user)
    assert (quota.used, quota.tokens_used) == (1, 0), "the settlement went with the record"
    assert Lease.objects.filter(user=user).count() == 1, "the lease is left for the sweep to give back"
    assert not UsageRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_request_that_counts_is_settled_and_recorded(user):
    attempt = RelayAttempt(
        user_id=user.pk, endpoint="v1", model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    attempt.reserve(completion_tokens=100)

    attempt.succeed(usage=Usage(10, 5, 15), answer="hello")

    quota = Quota.objects.get(user=user)
    assert (quota.used, quota.tokens_used, quota.tokens_reserved) == (1, 15, 0)
    assert UsageRecord.objects.get(user=user).total_tokens == 15
    assert not Lease.objects.exists()
