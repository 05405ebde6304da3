from django.contrib import admin

from quota import clock
from quota.models import Quota


class QuotaInline(admin.StackedInline):
    """The user's quota, on the user's own admin page."""

    model = Quota
    can_delete = False
    fields = ("daily_limit", "used_today")
    readonly_fields = ("used_today",)
    verbose_name_plural = "Quota"

    @admin.display(description="Used today")
    def used_today(self, quota: Quota) -> int:
        return quota.used_on(clock.today())
