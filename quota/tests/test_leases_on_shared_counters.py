"""What in-flight leases set aside on counters shared with others (a team's, a key's) when their requests
end without a settlement of their own: an administrator's reset, the user's deletion, a lost request."""

from __future__ import annotations

import subprocess

import pytest

from apikeys.services import create_api_key
from quota import leases
from quota.models import Counter, Lease, Limit, Quota
from quota.services import reserve_request, reset_today, settle_lost_lease
from teams.models import Membership, Team


@pytest.fixture
def members(make_user):
    """Ada and Bob in one team with 1,000 tokens and 10 requests a week between them."""
    ada, bob = make_user("ada"), make_user("bob")
    team = Team.objects.create(name="course-101")
    for user in (ada, bob):
        Membership.objects.create(team=team, user=user)
        Quota.objects.filter(user=user).update(daily_limit=100)
    Limit.objects.create(team=team, metric="tokens", period="week", amount=1000)
    Limit.objects.create(team=team, metric="requests", period="week", amount=10)
    return ada, bob, team


def _owner_of_a_process_that_has_ended() -> str:
    process = subprocess.Popen(["sleep", "30"])
    owner = leases._owner_name(process.pid)
    process.kill()
    process.wait()
    return owner


def _team_counter(team) -> tuple[int, int]:
    counter = Counter.objects.get(team=team, period="week")
    return counter.requests, counter.tokens_reserved


def test_an_administrators_reset_releases_what_the_users_leases_set_aside_for_the_other_members(members):
    ada, bob, team = members
    reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=800)
    assert reserve_request(user_id=bob.pk, team_id=team.pk, completion_tokens=800).token_budget == 200

    reset_today(user_ids=[ada.pk])

    assert _team_counter(team) == (2, 200), "ada's 800 released; her request happened and still counts"
    assert reserve_request(user_id=bob.pk, team_id=team.pk, completion_tokens=800).token_budget == 800


def test_a_users_deletion_releases_what_their_leases_set_aside_for_the_other_members(members):
    ada, bob, team = members
    reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=800)
    reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=100)

    ada.delete()

    assert not Lease.objects.exists()
    assert _team_counter(team) == (2, 0)
    assert reserve_request(user_id=bob.pk, team_id=team.pk, completion_tokens=1000).token_budget == 1000


def test_a_lost_lease_gives_back_its_request_and_reservations_on_every_counter(members):
    ada, _, team = members
    key, _ = create_api_key(user=ada, name="script")
    Limit.objects.create(api_key=key, metric="tokens", period="day", amount=5000)
    lost = reserve_request(user_id=ada.pk, api_key_id=key.pk, team_id=team.pk, completion_tokens=800)

    assert settle_lost_lease(Lease.objects.get(pk=lost.lease_id))

    assert _team_counter(team) == (0, 0)
    key_counter = Counter.objects.get(api_key=key, period="day")
    assert (key_counter.requests, key_counter.tokens_reserved) == (0, 0)
    assert Quota.objects.get(user=ada).used == 0


def test_leases_of_a_server_process_that_ended_are_reaped_off_the_team_counter(members):
    ada, bob, team = members
    for user in (ada, bob):
        reserve_request(user_id=user.pk, team_id=team.pk, completion_tokens=400)
    owner = _owner_of_a_process_that_has_ended()
    Lease.objects.filter(user=ada).update(owner=owner)  # ada's request's server was killed

    assert leases.reap_lost_leases() == 1

    assert _team_counter(team) == (1, 400), "only bob's request, still in flight, holds the team's counter"


def test_a_member_refused_by_a_team_limit_held_by_another_members_lost_request_gets_it_back_at_once(members):
    """Not a sweep later: as a user refused by their own allowance held by their lost requests does."""
    ada, bob, team = members
    Limit.objects.filter(team=team, metric="requests").update(amount=1)
    lost = reserve_request(user_id=ada.pk, team_id=team.pk, completion_tokens=400)
    owner = _owner_of_a_process_that_has_ended()
    Lease.objects.filter(pk=lost.lease_id).update(owner=owner)  # ada's request's server was killed

    granted = reserve_request(user_id=bob.pk, team_id=team.pk, completion_tokens=400)

    assert granted.token_budget == 400
    assert not Lease.objects.filter(pk=lost.lease_id).exists()
    assert _team_counter(team) == (1, 400)
