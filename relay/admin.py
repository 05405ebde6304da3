from django.contrib import admin
from django.http import HttpRequest

from relay.models import UsageRecord


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    """Read-only: records are written by the relay alone."""

    list_display = ("created", "user", "endpoint", "model", "status_code", "total_tokens", "latency_ms", "error")
    list_filter = ("endpoint", "status_code", "model")
    list_select_related = ("user",)
    search_fields = ("user__username",)
    date_hierarchy = "created"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: UsageRecord | None = None) -> bool:
        return False
