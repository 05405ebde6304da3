from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from apikeys.admin import APIKeyInline
from quota import clock
from quota.admin import QuotaInline


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = [QuotaInline, APIKeyInline]
    list_display = ("username", "email", "is_active", "is_staff", "daily_limit", "used_today")
    list_select_related = ("quota",)
    actions = ["revoke_tokens"]

    def get_inlines(self, request: HttpRequest, obj: User | None):
        # On the add page the quota does not exist yet (it is made with the user, with the default
        # limit), nor do any API keys.
        return self.inlines if obj else []

    @admin.display(description="Daily limit", ordering="quota__daily_limit")
    def daily_limit(self, user: User) -> int:
        return user.quota.daily_limit

    @admin.display(description="Used today")
    def used_today(self, user: User) -> int:
        return user.quota.used_on(clock.today())

    @admin.action(description="Revoke all tokens of the selected users")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user.revoke_tokens()
        self.message_user(request, f"Revoked every token of {queryset.count()} user(s).", messages.SUCCESS)
