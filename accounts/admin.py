from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User


class UserAdmin(DjangoUserAdmin):
    """A user's account: Django's own, and revoking their tokens. The page admins see adds each app's part
    (quota, API keys, usage) on top of this one; it is put together in chatgateway/admin.py."""

    actions = ["revoke_tokens"]

    @admin.action(
        description="Revoke all tokens of the selected users (their API keys keep working)", permissions=["change"]
    )
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user.revoke_tokens()
        self.message_user(request, f"Revoked every token of {queryset.count()} user(s).", messages.SUCCESS)
