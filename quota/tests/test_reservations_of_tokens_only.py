"""Reservations that embeddings make: a budget that must fit whole (the estimated prompt, which can't be cut
short), and, by a setting, no request taken, which every way of ending it (refund, a lost lease, the outbox)
then gives no request back."""

from __future__ import annotations

import pytest

from quota.exceptions import QuotaExceeded
from quota.models import Lease, Quota
from quota.services import refund_request, reserve_request, settle_lost_lease, settle_request
from relay import outbox


@pytest.fixture
def limited(make_user):
    user = make_user("ada")
    Quota.objects.filter(user=user).update(daily_limit=2, daily_token_limit=100)
    return user


def _counts(user) -> tuple[int, int, int]:
    quota = Quota.objects.get(user=user)
    return quota.used, quota.tokens_used, quota.tokens_reserved


def test_a_budget_that_must_fit_is_refused_when_less_is_left(limited):
    reserve_request(user_id=limited.pk, completion_tokens=60)

    with pytest.raises(QuotaExceeded) as refused:
        reserve_request(user_id=limited.pk, completion_tokens=41, budget_must_fit=True)

    assert refused.value.code == "limit_held_by_requests_in_flight"  # the first, still running, holds the rest
    assert _counts(limited) == (1, 0, 60)
    assert reserve_request(user_id=limited.pk, completion_tokens=40, budget_must_fit=True).token_budget == 40


def test_a_budget_that_need_not_fit_is_cut_to_what_is_left(limited):
    assert reserve_request(user_id=limited.pk, completion_tokens=500).token_budget == 100


def test_a_reservation_that_takes_no_request_is_granted_past_the_request_limit(limited):
    for _ in range(2):
        reserve_request(user_id=limited.pk, completion_tokens=1)

    reservation = reserve_request(user_id=limited.pk, completion_tokens=10, counts_request=False)

    assert reservation.allowance.requests_remaining == 0
    assert _counts(limited) == (2, 0, 12)
    settle_request(reservation=reservation, tokens=7)
    assert _counts(limited) == (2, 7, 2)


def test_a_blocked_user_is_refused_even_a_reservation_that_takes_no_request(limited):
    Quota.objects.filter(user=limited).update(daily_limit=0)

    with pytest.raises(QuotaExceeded) as refused:
        reserve_request(user_id=limited.pk, counts_request=False)

    assert refused.value.blocked


def test_its_refund_gives_no_request_back(limited):
    reserve_request(user_id=limited.pk, completion_tokens=1)
    reservation = reserve_request(user_id=limited.pk, completion_tokens=10, counts_request=False)

    refund_request(reservation=reservation)

    assert _counts(limited) == (1, 0, 1)


def test_its_lost_lease_gives_no_request_back(limited):
    reserve_request(user_id=limited.pk, completion_tokens=1)
    reservation = reserve_request(user_id=limited.pk, completion_tokens=10, counts_request=False)

    assert settle_lost_lease(Lease.objects.get(pk=reservation.lease_id))

    assert _counts(limited) == (1, 0, 1)


def test_its_refund_kept_in_the_outbox_gives_no_request_back(limited):
    reserve_request(user_id=limited.pk, completion_tokens=1)
    reservation = reserve_request(user_id=limited.pk, completion_tokens=10, counts_request=False)

    outbox.defer(quota=outbox.settlement(reservation=reservation, tokens=None), record=None)
    assert outbox.flush() == 1

    assert _counts(limited) == (1, 0, 1)
