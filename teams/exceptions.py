"""Domain errors of teams; core.errors turns them into each API's answer."""

from __future__ import annotations

from django.utils.translation import gettext, gettext_lazy

from core.errors import ApplicationError

NOT_A_MEMBER = gettext_lazy("You are not a member of the team “{team}”.")
KEY_OF_ANOTHER_TEAM = gettext_lazy("This API key draws on the team “{team}”; it can't be used for another team.")


class TeamNotAllowed(ApplicationError):
    """The request names a team its user is not in, or one other than its API key's: 403, nothing taken."""

    status = 403
    code = "team_not_allowed"

    def __init__(self, *, team: str, key_team: str | None = None) -> None:
        super().__init__(f"team {team!r} not allowed")
        self.team = team
        self.key_team = key_team

    @property
    def message(self) -> str:  # type: ignore[override]
        if self.key_team is not None:
            return gettext(KEY_OF_ANOTHER_TEAM).format(team=self.key_team)
        return gettext(NOT_A_MEMBER).format(team=self.team)
