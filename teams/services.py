"""Which team a request draws on."""

from __future__ import annotations

from core import access
from teams.exceptions import TeamNotAllowed
from teams.models import Membership, Team

HEADER = "X-ChatGateway-Team"  # a request names the team it draws on (by name), among its user's


def team_for_request(*, user_id: int, asked: str | None = None, key_team_id: int | None = None) -> Team | None:
    """The team whose limits a request of `user_id` draws on, or None (the user is in no team):

    - an API key given a team draws on that team, always (a header naming another is refused), while its
      user is a member (once they leave it, the key is refused until it is given another team);
    - else the team the request names (`asked`, the X-ChatGateway-Team header), if the user is a member;
    - else the user's default team, or the team they joined first.

    So a member of a team can't leave its shared limits by naming no team. TeamNotAllowed if the named
    team is not one the request may draw on. The user's teams from the process's cache (core/access.py),
    else one query. The team is shared: callers read it only."""
    asked = (asked or "").strip() or None
    teams = _teams_of(user_id)
    if key_team_id is not None:
        team = next((team for team in teams if team.pk == key_team_id), None)
        if team is None:  # its user has left the team since the key was given it: it draws on it no more
            name = access.cached("team_name", key_team_id, lambda: _name_of(key_team_id))
            if name is None:
                return None  # the team is gone (the key's team is set to none with it)
            raise TeamNotAllowed(team=name)
        if asked is not None and asked != team.name:
            raise TeamNotAllowed(team=asked, key_team=team.name)
        return team
    if asked is not None:
        team = next((team for team in teams if team.name == asked), None)
        if team is None:
            raise TeamNotAllowed(team=asked)
        return team
    return teams[0] if teams else None


def _teams_of(user_id: int) -> tuple[Team, ...]:
    """The user's teams, their default first, then in the order they joined them: from the process's cache
    (core/access.py), which any change to a team or a membership ends at once; else one query. Cached by
    user only, so that what a request names (a header) can't fill the cache."""
    return access.cached(
        "teams",
        user_id,
        lambda: tuple(
            membership.team
            for membership in Membership.objects.filter(user_id=user_id)
            .select_related("team")
            .order_by("-is_default", "joined", "id")
        ),
    )


def _name_of(team_id: int) -> str | None:
    return Team.objects.filter(pk=team_id).values_list("name", flat=True).first()
