"""Reading teams."""

from __future__ import annotations

from teams.models import Membership


def team_names_of(*, user_id: int) -> list[str]:
    """The names of the user's teams, the one their requests draw on by default first (as
    teams.services.team_for_request picks it when a request names none). One query."""
    memberships = Membership.objects.filter(user_id=user_id).order_by("-is_default", "joined", "id")
    return list(memberships.values_list("team__name", flat=True))
