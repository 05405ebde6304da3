"""teams.selectors.team_names_of: a user's teams, the one their requests draw on by default first."""

from __future__ import annotations

from teams.models import Membership, Team
from teams.selectors import team_names_of


def test_it_lists_the_default_team_first_then_the_others_as_joined(user, make_user, django_assert_num_queries):
    for name, default in (("first", False), ("chosen", True), ("last", False)):
        Membership.objects.create(team=Team.objects.create(name=name), user=user, is_default=default)
    Membership.objects.create(team=Team.objects.create(name="not-theirs"), user=make_user("grace"))

    with django_assert_num_queries(1):
        assert team_names_of(user_id=user.pk) == ["chosen", "first", "last"]


def test_it_lists_nothing_for_a_user_in_no_team(user):
    assert team_names_of(user_id=user.pk) == []
