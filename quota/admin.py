from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from core.money import format_money
from quota import clock
from quota.limits import Holders, Reading, readings, readings_of_holder
from quota.models import Limit, Metric, Period, Plan, Quota
from quota.services import reset_today
from teams.services import team_for_request

UNLIMITED = "unlimited"


def limit_text(limit: int | None) -> str:
    return UNLIMITED if limit is None else f"{limit:,}"


class QuotaInline(admin.StackedInline):
    """The user's quota, on the user's own admin page: the limits to edit, today's counts, the month."""

    model = Quota
    can_delete = False
    fieldsets = (
        ("Limits", {"fields": ("plan", "daily_limit", "daily_token_limit")}),
        ("Today", {"fields": ("requests_today", "tokens_today", "tokens_in_flight")}),
        ("Every other limit in force", {"fields": ("limits_in_force",)}),
    )
    readonly_fields = ("requests_today", "tokens_today", "tokens_in_flight", "limits_in_force")
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

    @admin.display(description="Limits")
    def limits_in_force(self, quota: Quota) -> SafeString | str:
        """The user's own limits, their plan's, and those of the team their requests draw on by default
        (a key's own are on the key's page): where the user stands on each, and whose it is."""
        if quota._state.adding:
            return "—"
        team = team_for_request(user_id=quota.user_id)
        found = readings(Holders(quota.user_id, team_id=team.pk if team else None))
        if not found:
            return "None: only the daily limits above."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    _WHOSE[r.limit.scope].format(team=r.limit.name),
                    f"{r.limit.metric} {Period(r.limit.period).label}",
                    _amount(r.limit.metric, r.limit.units),
                    _amount(r.limit.metric, r.used),
                    _amount(r.limit.metric, r.reserved),
                    _amount(r.limit.metric, r.remaining),
                )
                for r in found
            ),
        )
        head = "<tr><th>whose</th><th>limit</th><th>amount</th><th>used</th><th>in flight</th><th>left</th></tr>"
        return format_html("<table>{}{}</table>", mark_safe(head), rows)  # noqa: S308 (a constant)


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


_WHOSE = {"user": "the user's (or plan's)", "api_key": "the key's", "team": "the team {team}'s"}


def _amount(metric: str, units: int) -> str:
    if metric == Metric.COST:
        return format_money(units, settings.CHATGATEWAY_CURRENCY)
    return f"{units:,}"


def _quota(user) -> Quota | None:
    # Every user gets a quota when made; one made around the signal (raw SQL) must not break the list.
    return getattr(user, "quota", None)


class LimitInline(admin.TabularInline):
    """The limits of a plan, user, API key or team (each admin page sets `fk_name`), with where the holder
    stands on each in its current period: used, set aside by requests in flight, left, and when it resets.
    A plan's limits are counted per user: its page shows no counts."""

    model = Limit
    fields = ("metric", "period", "amount", "used", "in_flight", "left", "resets")
    readonly_fields = ("used", "in_flight", "left", "resets")
    extra = 0
    verbose_name_plural = "Limits (per minute, day, week, month or in total; cost in the currency)"

    def _reading(self, limit: Limit) -> Reading | None:
        if not hasattr(limit, "_reading"):  # read once for the row's four columns
            limit._reading = self._read(limit)
        return limit._reading

    def _read(self, limit: Limit) -> Reading | None:
        if limit._state.adding or limit.plan_id is not None:
            return None
        holders = Holders(
            user_id=limit.user_id or 0, api_key_id=limit.api_key_id, team_id=limit.team_id
        )  # only the limit's own holder has limits of its own here
        for reading in readings_of_holder(holders, limit.holder):
            if (reading.limit.metric, reading.limit.period) == (limit.metric, limit.period):
                return reading
        return None

    def _units(self, limit: Limit, units: int) -> str:
        return _amount(limit.metric, units)

    @admin.display(description="Used this period")
    def used(self, limit: Limit) -> str:
        reading = self._reading(limit)
        return "—" if reading is None else self._units(limit, reading.used)

    @admin.display(description="Set aside by requests in flight")
    def in_flight(self, limit: Limit) -> str:
        reading = self._reading(limit)
        return "—" if reading is None else self._units(limit, reading.reserved)

    @admin.display(description="Left")
    def left(self, limit: Limit) -> str:
        reading = self._reading(limit)
        return "—" if reading is None else self._units(limit, reading.remaining)

    @admin.display(description="Resets")
    def resets(self, limit: Limit) -> str:
        reading = self._reading(limit)
        if reading is None:
            return "—"
        return "never" if reading.resets_at is None else f"{timezone.localtime(reading.resets_at):%Y-%m-%d %H:%M}"


class PlanLimitInline(LimitInline):
    fk_name = "plan"


class UserLimitInline(LimitInline):
    fk_name = "user"


class APIKeyLimitInline(LimitInline):
    fk_name = "api_key"


class TeamLimitInline(LimitInline):
    fk_name = "team"


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    """Named allowances; a user's page chooses theirs."""

    list_display = ("name", "daily_request_limit", "token_limit", "users")
    search_fields = ("name",)
    inlines = [PlanLimitInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        return super().get_queryset(request).annotate(user_count=Count("quotas"))

    @admin.display(description="Daily token limit", ordering="daily_token_limit")
    def token_limit(self, plan: Plan) -> str:
        return limit_text(plan.daily_token_limit)

    @admin.display(description="Users", ordering="user_count")
    def users(self, plan: Plan) -> SafeString:
        url = reverse("admin:accounts_user_changelist") + f"?quota__plan__id__exact={plan.pk}"
        return format_html('<a href="{}">{}</a>', url, f"{plan.user_count:,}")
