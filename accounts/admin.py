from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from accounts.models import User
from apikeys.admin import APIKeyInline
from apikeys.models import APIKey
from apikeys.services import revoke_api_keys
from quota import clock
from quota.admin import QuotaInline
from quota.models import Quota
from quota.services import reset_today


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = [QuotaInline, APIKeyInline]
    # Staff status is left to the filter: the quota columns need the room.
    list_display = ("username", "email", "is_active", "plan", "request_limit", "used_today", "tokens_today")
    list_filter = (("quota__plan", admin.RelatedFieldListFilter), *DjangoUserAdmin.list_filter)
    list_select_related = ("quota", "quota__plan")
    actions = ["reset_todays_counts", "revoke_keys_and_tokens", "revoke_tokens"]

    def get_inlines(self, request: HttpRequest, obj: User | None):
        # On the add page the quota does not exist yet (it is made with the user, with the default
        # limit), nor do any API keys.
        return self.inlines if obj else []

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        # The limit in force as a column, so that the list can be sorted by it.
        in_force = Coalesce(
            "quota__daily_limit", "quota__plan__daily_request_limit", Value(settings.CHATGATEWAY_DAILY_LIMIT)
        )
        return super().get_queryset(request).annotate(request_limit_in_force=in_force)

    @admin.display(description="Plan", ordering="quota__plan__name")
    def plan(self, user: User) -> str:
        quota = _quota(user)
        return quota.plan.name if quota and quota.plan else "—"

    @admin.display(description="Request limit", ordering="request_limit_in_force")
    def request_limit(self, user: User) -> int | None:
        quota = _quota(user)
        return quota.request_limit() if quota else None

    @admin.display(description="Used today")
    def used_today(self, user: User) -> int | None:
        quota = _quota(user)
        return quota.used_on(clock.today()) if quota else None

    @admin.display(description="Tokens today")
    def tokens_today(self, user: User) -> str | None:
        quota = _quota(user)
        return f"{quota.tokens_used_on(clock.today()):,}" if quota else None

    @admin.action(description="Reset today's counts of the selected users", permissions=["change"])
    def reset_todays_counts(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        reset = reset_today(user_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Reset today's requests and tokens of {reset} user(s).", messages.SUCCESS)

    @admin.action(description="Revoke API keys and tokens of the selected users", permissions=["change"])
    def revoke_keys_and_tokens(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        keys = revoke_api_keys(queryset=APIKey.objects.filter(user__in=queryset))
        users = list(queryset)
        for user in users:
            user.revoke_tokens()
        self.message_user(
            request, f"Revoked {keys} API key(s) and every token of {len(users)} user(s).", messages.SUCCESS
        )

    @admin.action(
        description="Revoke all tokens of the selected users (their API keys keep working)", permissions=["change"]
    )
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user.revoke_tokens()
        self.message_user(request, f"Revoked every token of {queryset.count()} user(s).", messages.SUCCESS)


def _quota(user: User) -> Quota | None:
    # Every user gets a quota when made; one made around the signal (raw SQL) must not break the list.
    return getattr(user, "quota", None)
