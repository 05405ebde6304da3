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
    team is not one the request may draw on. From the process's cache (core/access.py), which any change
    to a team or a membership ends at once; else one query. The team is shared: callers read it only."""
    asked = (asked or "").strip() or None
    found = access.cached("team", (user_id, asked, key_team_id), lambda: _team_or_refusal(user_id, asked, key_team_id))
    if isinstance(found, TeamNotAllowed):
        raise TeamNotAllowed(team=found.team, key_team=found.key_team)
    return found


def _team_or_refusal(user_id: int, asked: str | None, key_team_id: int | None) -> Team | TeamNotAllowed | None:
    try:
        return _team(user_id, asked, key_team_id)
    except TeamNotAllowed as refused:
        return refused


def _team(user_id: int, asked: str | None, key_team_id: int | None) -> Team | None:
    if key_team_id is not None:
        team = Team.objects.filter(pk=key_team_id, memberships__user_id=user_id).first()
        if team is None:  # its user has left the team since the key was given it: it draws on it no more
            name = Team.objects.filter(pk=key_team_id).values_list("name", flat=True).first()
            if name is None:
                return None  # the team is gone (the key's team is set to none with it)
            raise TeamNotAllowed(team=name)
        if asked is not None and asked != team.name:
            raise TeamNotAllowed(team=asked, key_team=team.name)
        return team
    memberships = Membership.objects.filter(user_id=user_id).select_related("team")
    if asked is not None:
        membership = memberships.filter(team__name=asked).first()
        if membership is None:
            raise TeamNotAllowed(team=asked)
        return membership.team
    membership = memberships.order_by("-is_default", "joined", "id").first()
    return membership.team if membership is not None else None
