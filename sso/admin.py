from __future__ import annotations

from django.contrib import admin

from sso.models import SSOIdentity


class SSOIdentityInline(admin.StackedInline):
    """On a user's page: the provider account they sign in with, and whether their groups manage them.

    An administrator overrides the group mapping for one user by unticking "managed by groups" and then
    setting their plan, staff and superuser status by hand: the next logins leave those alone."""

    model = SSOIdentity
    can_delete = True
    extra = 0
    max_num = 1
    fields = ("managed_by_groups", "issuer", "subject", "groups", "last_login")
    readonly_fields = ("issuer", "subject", "groups", "last_login")

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # made by the first login through the provider


@admin.register(SSOIdentity)
class SSOIdentityAdmin(admin.ModelAdmin):
    list_display = ("user", "subject", "managed_by_groups", "last_login")
    list_filter = ("managed_by_groups",)
    list_editable = ("managed_by_groups",)
    search_fields = ("user__username", "subject")
    fields = ("user", "managed_by_groups", "issuer", "subject", "groups", "last_login")
    readonly_fields = ("user", "issuer", "subject", "groups", "last_login")

    def has_add_permission(self, request) -> bool:
        return False
