from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from quota import clock
from quota.models import Plan, Quota
from relay import dashboard

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
        ("Last 30 days", {"fields": ("last_30_days",)}),
    )
    readonly_fields = ("requests_today", "tokens_today", "tokens_in_flight", "last_30_days")
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

    @admin.display(description="Requests and tokens a day")
    def last_30_days(self, quota: Quota) -> SafeString | str:
        if quota._state.adding:  # the formset's blank template form
            return "—"
        days = dashboard.usage_per_day(period=dashboard.Period.last_days(30), user_id=quota.user_id)
        used = [day for day in reversed(days) if day.requests]
        if not used:
            return "No requests in the last 30 days."
        summary = format_html(
            "{} requests, {} errors, {} tokens in 30 days",
            *(f"{sum(getattr(day, name) for day in days):,}" for name in ("requests", "errors", "total_tokens")),
        )
        rows = format_html_join(
            "",
            ROW,
            ((day.day.isoformat(), f"{day.requests:,}", f"{day.errors:,}", f"{day.total_tokens:,}") for day in used),
        )
        return format_html(MONTH, dashboard.sparkline(days), summary, rows)


# The days with requests, newest first, in a box that scrolls past about ten of them.
MONTH = (
    '{}<p style="margin: 4px 0 8px">{}</p><div style="max-height: 19em; overflow-y: auto; display: inline-block">'
    "<table><thead><tr><th>Day</th><th>Requests</th><th>Errors</th><th>Tokens</th></tr></thead>"
    "<tbody>{}</tbody></table></div>"
)
ROW = (
    '<tr><td>{}</td><td style="text-align: right">{}</td><td style="text-align: right">{}</td>'
    '<td style="text-align: right">{}</td></tr>'
)
