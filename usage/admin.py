from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from accounts.models import User
from core import money
from quota.admin import QuotaInline
from quota.models import Quota
from relay import outbox
from relay.models import UsageRecord
from usage import dashboard, rollup

# The export's columns; an API key appears by its prefix, which is no secret (the secret is stored nowhere).
CSV_COLUMNS = {
    "id": "id",
    "created": "created",
    "day": "day",
    "user": "user__username",
    "team": "team",  # the team the request drew on, by its name then ("" for none)
    "api_key_prefix": "api_key__prefix",
    "endpoint": "endpoint",
    "stream": "stream",
    "model": "model",
    "status_code": "status_code",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
    "cost": "cost",  # in nanos in the table; written as an exact decimal of `currency`
    "currency": "currency",
    "estimated": "estimated",
    "latency_ms": "latency_ms",
    "ttfb_ms": "ttfb_ms",
    "request_id": "request_id",  # the gateway's (core/requestid.py), as in its logs
    "upstream_request_id": "upstream_request_id",
    "error": "error",
    "prompt_text": "prompt_text",
    "completion_text": "completion_text",
}
CREATED = list(CSV_COLUMNS).index("created")
COST = list(CSV_COLUMNS).index("cost")
CSV_ROWS_PER_CHUNK = 500


class CappedCountPaginator(Paginator):
    """Counts up to COUNT_CAP records (a LIMIT under the COUNT: it stops there); past it, the count is
    PostgreSQL's estimate (or COUNT_CAP + 1 elsewhere) and `estimated` says so."""

    estimated = False

    @cached_property
    def count(self) -> int:
        counted = self.object_list.order_by()[: COUNT_CAP + 1].count()
        if counted <= COUNT_CAP:
            return counted
        self.estimated = True
        return max(_estimate(self.object_list), COUNT_CAP + 1)


COUNT_CAP = 10_000


def _estimate(records: QuerySet) -> int:
    if connection.vendor != "postgresql":
        return 0
    plan = json.loads(records.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def _rolled_up_values(request: HttpRequest) -> dict[str, set[str]]:
    if not hasattr(request, "_usage_values"):
        request._usage_values = rollup.values()
    return request._usage_values


class RolledUpValuesFilter(admin.AllValuesFieldListFilter):
    """A recorded value's filter, its choices the values the roll-up and the records after it hold."""

    def __init__(self, field, request, params, model, model_admin, field_path) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        values = _rolled_up_values(request)[field_path]
        self.lookup_choices = sorted(values, key=lambda value: (value is None, value))


class UsersWithRecordsFilter(admin.RelatedFieldListFilter):
    """The users who have records (by the roll-up and the records after it), as RelatedOnlyFieldListFilter
    would list them without a DISTINCT over every record."""

    def field_choices(self, field, request, model_admin):
        ids = _rolled_up_values(request)["user"]
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(include_blank=False, limit_choices_to={"pk__in": ids}, ordering=ordering)


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    """Read-only: records are written by the relay alone. Totals of the filtered list above it, an
    export of it as CSV, and a dashboard of the last days."""

    list_display = (
        "created",
        "user",
        "team",
        "endpoint_path",
        "stream",
        "model",
        "provider",
        "upstream_model",
        "attempts",
        "status_code",
        "total_tokens",
        "cost_shown",
        "latency_ms",
        "error",
    )
    # The choices of the filters on a recorded value come from the roll-up, not from a DISTINCT over every record.
    list_filter = (
        ("user", UsersWithRecordsFilter),
        ("team", RolledUpValuesFilter),
        ("model", RolledUpValuesFilter),
        ("provider", RolledUpValuesFilter),
        ("status_code", RolledUpValuesFilter),
        "stream",
        "endpoint",
        "estimated",
    )
    list_select_related = ("user",)
    search_fields = ("user__username", "=request_id")  # a request id from a log line or a client finds its record
    date_hierarchy = "created"  # drawn by usage_date_hierarchy: its periods without a scan of every record
    # Ten million records: the list counts its matches up to a cap, and never the whole table a second time.
    show_full_result_count = False
    paginator = CappedCountPaginator

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: UsageRecord | None = None) -> bool:
        return False

    @admin.display(description="Cost", ordering="cost")
    def cost_shown(self, record: UsageRecord) -> str:
        return money.format_money(record.cost, record.currency) if record.currency else "—"

    @admin.display(description="Endpoint", ordering="endpoint")
    def endpoint_path(self, record: UsageRecord) -> str:
        return record.get_endpoint_display().split(" ")[0]  # "/v1/chat/completions (OpenAI compatible)": its path

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("dashboard/", view(self.dashboard_view), name="relay_usagerecord_dashboard"),
            path("export/", view(self.export_view), name="relay_usagerecord_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if request.method == "GET" and (rejected := outbox.rejected_count()):
            messages.warning(request, _rejected_warning(rejected))
        response = super().changelist_view(request, extra_context)
        # A redirect (bad filters) or an action's answer has no changelist to add up.
        if isinstance(response, TemplateResponse) and "cl" in response.context_data:
            response.context_data["usage_totals"] = _totals(response.context_data["cl"], request)
            response.context_data["count_cap"] = COUNT_CAP
            response.context_data["currency"] = settings.CHATGATEWAY_CURRENCY
        return response

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """Each word is a part of a username or a whole request id: the users are looked up in their own table
        (no join of every record with its user), the request id by its index."""
        words = search_term.split()
        if not words:
            return queryset, False
        for word in words:
            # The ids first (a small table): as a list, PostgreSQL can OR two index scans; as a subquery it can't.
            users = list(User.objects.filter(username__icontains=word).values_list("pk", flat=True))
            queryset = queryset.filter(Q(user_id__in=users) | Q(request_id=word))
        return queryset, False

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The records of the list as filtered, searched and sorted by the same query string, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            records = self.get_changelist_instance(request).queryset
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:relay_usagerecord_changelist") + "?e=1")
        response = StreamingHttpResponse(_aiter(_csv_chunks(records)), content_type="text/csv; charset=utf-8")
        name = f"usage-{timezone.localtime():%Y%m%d-%H%M}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        """Requests, tokens and errors per day, top users and models, for the last 7, 30 or 90 days."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        days = int(request.GET["days"]) if request.GET.get("days") in map(str, dashboard.PERIODS) else 30
        board = dashboard.dashboard(days=days)
        context = {
            **self.admin_site.each_context(request),
            "title": "Usage dashboard",
            "subtitle": f"Last {days} days",
            "opts": self.opts,
            "board": board,
            "periods": dashboard.PERIODS,
            "days": days,
            "requests_chart": dashboard.requests_chart(board.days),
            "tokens_chart": dashboard.tokens_chart(board.days),
            "error_rate_chart": dashboard.error_rate_chart(board.days),
            "spend_chart": dashboard.spend_chart(board.days),
            "currency": settings.CHATGATEWAY_CURRENCY,
            "since": board.period.first.isoformat(),
            "time_zone": timezone.get_current_timezone_name(),
        }
        return TemplateResponse(request, "admin/relay/usagerecord/dashboard.html", context)


def _totals(cl, request: HttpRequest) -> dashboard.Totals | None:
    """The totals of the records listed: added up when they are at most COUNT_CAP (as counted for the pages);
    of the whole table from the roll-up; of a larger selection, not at all (None): the dashboard has them."""
    if not cl.paginator.estimated:
        return dashboard.usage_totals(records=cl.queryset)
    if not (cl.get_filters_params() or cl.query):  # the filters (the date hierarchy's too) and the search
        return dashboard.all_time_totals(users=len(_rolled_up_values(request)["user"]))
    return None


class _Line:
    """What csv.writer writes to: it hands each line back instead of storing it."""

    def write(self, line: str) -> str:
        return line


def _rejected_warning(count: int) -> str:
    where = Path(settings.CHATGATEWAY_OUTBOX_DIR) / outbox.REJECTED
    return (
        f"{count} relay end{'s' if count != 1 else ''} the database refused for good (see the log: "
        f"“set aside”) {'are' if count != 1 else 'is'} kept in {where}, not in these records. Each file "
        "says why; a file moved back into the outbox's directory is applied once more, and never twice."
    )


def _csv_chunks(records: QuerySet[UsageRecord]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_COLUMNS)
    rows = records.values_list(*CSV_COLUMNS.values()).iterator(chunk_size=2000)
    chunk = []
    for row in rows:
        chunk.append(writer.writerow(_cells(row)))
        if len(chunk) == CSV_ROWS_PER_CHUNK:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def _cells(row: tuple) -> list:
    cells = list(row)
    cells[CREATED] = timezone.localtime(cells[CREATED]).isoformat()
    cells[COST] = f"{money.from_nanos(cells[COST]):f}"
    # Prompts, answers and names come from users: a cell that a spreadsheet would take for a formula
    # is kept as text.
    return [
        f"'{cell}" if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell for cell in cells
    ]


async def _aiter(chunks: Iterator[str]) -> AsyncIterator[str]:
    # The gateway is served over ASGI, where Django reads a synchronous iterator whole before sending
    # it; handed over chunk by chunk like this, an export of any size streams in little memory. Each
    # step runs in the request's one database thread, where the cursor lives.
    done = object()
    while (chunk := await sync_to_async(next)(chunks, done)) is not done:
        yield chunk


# The admin's home page links to the dashboard (the site is Django's default one, set up in chatgateway/urls.py).
admin.site.index_template = "admin/relay/index.html"


class QuotaInlineWithUsage(QuotaInline):
    """The quota on a user's page, with their last 30 days of usage below the limits."""

    fieldsets = (*QuotaInline.fieldsets, ("Last 30 days", {"fields": ("last_30_days",)}))

    class Media:
        css = {"all": ["usage/usage.css"]}  # the sparkline's colours and the table's layout

    readonly_fields = (*QuotaInline.readonly_fields, "last_30_days")

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
    '{}<p class="usage-month-summary">{}</p><div class="usage-month">'
    "<table><thead><tr><th>Day</th><th>Requests</th><th>Errors</th><th>Tokens</th></tr></thead>"
    "<tbody>{}</tbody></table></div>"
)
ROW = '<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>'
