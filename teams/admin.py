from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from teams.models import Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "is_default", "joined")
    readonly_fields = ("joined",)
    autocomplete_fields = ("user",)
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        # Each row shows its user and links its team: read with the rows, not a query each (the user's
        # autocomplete widget still reads its one choice itself).
        return super().get_queryset(request).select_related("user", "team")


class TeamAdmin(admin.ModelAdmin):
    """Teams and their members; their shared limits are added to this page where the admin site is put
    together (chatgateway/admin.py), since limits are the quota's."""

    list_display = ("name", "member_count", "created")
    search_fields = ("name",)
    inlines = [MembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(members_count=Count("memberships"))

    @admin.display(description="Members", ordering="members_count")
    def member_count(self, team: Team) -> int:
        return team.members_count
