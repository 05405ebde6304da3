"""The admin site, put together: the user's page gathers what each app shows of a user (the account, its
quota and usage, its API keys). Wiring it here lets the apps stay independent of each other."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import UserAdmin
from accounts.models import User
from apikeys.admin import APIKeyActionsOnUsers, APIKeyAdmin, APIKeyInline, APIKeyOwnerSearchOnUsers
from apikeys.models import APIKey
from providers.admin import ProviderAdmin
from providers.models import Provider
from quota.admin import APIKeyLimitInline, QuotaColumnsOnUsers, TeamLimitInline, UserLimitInline
from relay.admin import ProviderConnectionTest
from sso.admin import SSOIdentityInline
from sso.models import SSOIdentity
from teams.admin import TeamAdmin
from teams.models import Team
from usage.admin import QuotaInlineWithUsage

admin.site.site_header = "ChatGateway administration"
admin.site.site_title = "ChatGateway"


@admin.register(User)
class GatewayUserAdmin(QuotaColumnsOnUsers, APIKeyActionsOnUsers, APIKeyOwnerSearchOnUsers, UserAdmin):
    inlines = [QuotaInlineWithUsage, UserLimitInline, APIKeyInline]
    # Staff status is left to the filter: the quota columns need the room.
    list_display = ("username", "email", "is_active", *QuotaColumnsOnUsers.quota_columns)
    list_filter = (*QuotaColumnsOnUsers.quota_filters, *UserAdmin.list_filter)
    actions = ["reset_todays_counts", "revoke_keys_and_tokens", "revoke_tokens"]

    def get_inlines(self, request: HttpRequest, obj: User | None):
        # On the add page the quota does not exist yet (it is made with the user, with the default
        # limit), nor do any API keys.
        if obj is None:
            return []
        # A user who signs in through the provider has an identity, whose "managed by groups" is the override.
        return [*self.inlines, SSOIdentityInline] if SSOIdentity.objects.filter(user=obj).exists() else self.inlines


admin.site.unregister(Provider)


@admin.register(Provider)
class GatewayProviderAdmin(ProviderConnectionTest, ProviderAdmin):
    actions = [*ProviderAdmin.actions, "test_connection"]


admin.site.unregister(APIKey)


@admin.register(APIKey)
class GatewayAPIKeyAdmin(APIKeyAdmin):
    """A key's page, with the key's own limits (e.g. $5 a day and 60 requests a minute for a script)."""

    def get_inlines(self, request: HttpRequest, obj: APIKey | None):
        return [APIKeyLimitInline] if obj is not None else []


@admin.register(Team)
class GatewayTeamAdmin(TeamAdmin):
    inlines = [*TeamAdmin.inlines, TeamLimitInline]
