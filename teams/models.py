"""Teams: named groups of users (a course, a department) whose members draw on limits they share.

A user may belong to several teams. Each request draws on one of them (teams.services.team_for_request):
the one its caller names, else its API key's, else the user's default team. The limits a team has live
with every other limit, in quota (`quota.Limit`), and are counted there.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TeamManager(models.Manager):
    def get_by_natural_key(self, name: str) -> Team:
        return self.get(name=name)


class Team(models.Model):
    name = models.CharField(
        max_length=100, unique=True, help_text="How users name it in the X-ChatGateway-Team header, e.g. “course-101”."
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")
    created = models.DateTimeField(auto_now_add=True)

    objects = TeamManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def natural_key(self) -> tuple[str]:
        return (self.name,)


class Membership(models.Model):
    """A user in a team. `is_default`: the team their requests draw on when they name none (at most one
    per user; without one, the team they joined first)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    is_default = models.BooleanField(
        default=False, help_text="The team this user's requests draw on when they name none."
    )
    joined = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["joined", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="teams_one_membership_per_team"),
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(is_default=True),
                name="teams_one_default_team_per_user",
                violation_error_message="A user has at most one default team: untick the other one first.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"
