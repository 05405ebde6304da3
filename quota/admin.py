from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from quota import clock
from quota.models import Plan, Quota
from quota.services import reset_today

UNLIMITED = "unlimited"


def limit_text(limit: int | None) -> str:
    return UNLIMITED if limit is None else f"{limit:,}"


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    """Named allowances; a user's page chooses theirs."""

    list_display = ("name", "daily_request_limit", "token_limit", "users")
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        return super().get_queryset(request).annotate(user_count=Count("quotas"))

    @admin.display(description="Daily token limit", ordering="daily_token_limit")
    def token_limit(self, plan: Plan) -> str:
        return limit_text(plan.daily_token_limit)

    @admin.display(description="Users", ordering="user_count")
    def users(self, plan: Plan) -> SafeString:
        url = reverse("admin:accounts_user_changelist") + f"?quota__plan__id__exact={plan.pk}"
        return format_html('<a href="{}">{}</a>', url, f"{plan.user_count:,}")


class QuotaInline(admin.StackedInline):
    """The user's quota, on the user's own admin page: the limits to edit, today's counts, the month."""

    model = Quota
    can_delete = False
    fieldsets = (
        ("Limits", {"fields": ("plan", "daily_limit", "daily_token_limit")}),
        ("Today", {"fields": ("requests_today", "tokens_today", "tokens_in_flight")}),
    )
    readonly_fields = ("requests_today", "tokens_today", "tokens_in_flight")
    verbose_name_plural = "Quota"

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        # Which default an empty field falls back to without a plan is in settings: say it.
        if db_field.name == "daily_limit":
            field.help_text = (
                "Requests a day for this user. Empty: the plan's; without a plan, the default "
                f"({settings.CHATGATEWAY_DAILY_LIMIT:,}). 0 blocks the user."
            )
        elif db_field.name == "daily_token_limit":
            field.help_text = (
                "Prompt and completion tokens a day for this user. Empty: the plan's; without a plan, the "
                f"default ({limit_text(settings.CHATGATEWAY_DAILY_TOKEN_LIMIT)})."
            )
        return field

    @admin.display(description="Requests used")
    def requests_today(self, quota: Quota) -> str:
        return f"{quota.used_on(clock.today()):,} of {quota.request_limit():,}"

    @admin.display(description="Tokens used")
    def tokens_today(self, quota: Quota) -> str:
        return f"{quota.tokens_used_on(clock.today()):,} of {limit_text(quota.token_limit())}"

    @admin.display(description="Tokens reserved by requests in flight")
    def tokens_in_flight(self, quota: Quota) -> str:
        return f"{quota.tokens_reserved_on(clock.today()):,}"


class QuotaColumnsOnUsers(admin.ModelAdmin):
    """The quota's part of the users' list: plan, limit in force, today's counts, and resetting them. A
    mixin for the user admin (chatgateway/admin.py), which needs no import of the accounts app."""

    quota_columns = ("plan", "request_limit", "used_today", "tokens_today")
    list_select_related = ("quota", "quota__plan")
    quota_filters = (("quota__plan", admin.RelatedFieldListFilter),)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The limit in force as a column, so that the list can be sorted by it.
        in_force = Coalesce(
            "quota__daily_limit", "quota__plan__daily_request_limit", Value(settings.CHATGATEWAY_DAILY_LIMIT)
        )
        return super().get_queryset(request).annotate(request_limit_in_force=in_force)

    @admin.display(description="Plan", ordering="quota__plan__name")
    def plan(self, user) -> str:
        quota = _quota(user)
        return quota.plan.name if quota and quota.plan else "—"

    @admin.display(description="Request limit", ordering="request_limit_in_force")
    def request_limit(self, user) -> int | None:
        quota = _quota(user)
        return quota.request_limit() if quota else None

    @admin.display(description="Used today")
    def used_today(self, user) -> int | None:
        quota = _quota(user)
        return quota.used_on(clock.today()) if quota else None

    @admin.display(description="Tokens today")
    def tokens_today(self, user) -> str | None:
        quota = _quota(user)
        return f"{quota.tokens_used_on(clock.today()):,}" if quota else None

    @admin.action(description="Reset today's counts of the selected users", permissions=["change"])
    def reset_todays_counts(self, request: HttpRequest, queryset: QuerySet) -> None:
        reset = reset_today(user_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Reset today's requests and tokens of {reset} user(s).", messages.SUCCESS)


def _quota(user) -> Quota | None:
    # Every user gets a quota when made; one made around the signal (raw SQL) must not break the list.
    return getattr(user, "quota", None)
