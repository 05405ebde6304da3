"""A team's change page in admin lists its members without a query of its own for each member's user and
team (three queries a member before): only the user's autocomplete widget reads its one choice."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from teams.models import Membership, Team


def _queries_of_the_change_page(client, team: Team) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/admin/teams/team/{team.pk}/change/").status_code == 200
    return len(queries.captured_queries)


def test_each_member_costs_the_team_page_one_query_at_most(client, make_user):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    team = Team.objects.create(name="course")
    for number in range(5):
        Membership.objects.create(team=team, user=make_user(f"student{number}"))
    with_five = _queries_of_the_change_page(client, team)
    for number in range(5, 25):
        Membership.objects.create(team=team, user=make_user(f"student{number}"))

    assert _queries_of_the_change_page(client, team) - with_five <= 20
