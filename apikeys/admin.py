from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.models import User
from apikeys.exceptions import TooManyAPIKeys
from apikeys.models import APIKey
from apikeys.services import create_api_key, ensure_room_for_api_key, revoke_api_keys

ADD_FIELDS = ("user", "name", "expires")
CHANGE_FIELDS = ("name", "team", "user", "prefix", "created", "last_used", "expires", "revoked")
EDITABLE = ("name", "team")  # the team: whose shared limits the key's requests draw on (one of its user's)
NOT_YOURS_TO_KEY = "You may not make an API key for this user."


# A key acts as its user, so making one for a user is as strong as changing them (or stronger: it needs no
# password). Whom a staff user may make a key for, in the admin:
def _may_change_users(actor: User) -> bool:
    return actor.has_perm(f"{User._meta.app_label}.{get_permission_codename('change', User._meta)}")


def may_make_key_for(actor: User, owner: User) -> bool:
    """Themselves; another user only with the permission to change users; a superuser only as one."""
    if actor.is_superuser or owner.pk == actor.pk:
        return True
    return not owner.is_superuser and _may_change_users(actor)


def owners_for(actor: User, users: QuerySet[User]) -> QuerySet[User]:
    """Those of `users` whom `actor` may make a key for (the same rule as may_make_key_for)."""
    if actor.is_superuser:
        return users
    if _may_change_users(actor):
        return users.filter(Q(is_superuser=False) | Q(pk=actor.pk))
    return users.filter(pk=actor.pk)


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("usable", "Usable"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> QuerySet[APIKey]:
        now = timezone.now()
        if self.value() == "usable":
            return queryset.usable(now)
        if self.value() == "expired":
            return queryset.filter(revoked__isnull=True, expires__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked__isnull=False)
        return queryset


class NewAPIKeyForm(forms.ModelForm):
    class Meta:
        model = APIKey
        fields = ADD_FIELDS

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("user") is not None:
            # Early, friendly feedback; create_api_key checks again under a lock.
            try:
                ensure_room_for_api_key(user=cleaned["user"])
            except TooManyAPIKeys as error:
                self.add_error("user", f"This user already has {error.limit} active API keys, the most allowed.")
        return cleaned


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    """Keys are made here for a user and their secret shown once; afterwards only the name can change."""

    list_display = ("name", "user", "prefix", "created", "last_used", "expires", "revoked")
    list_filter = (StatusFilter, "created", "last_used")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email", "name", "prefix")
    autocomplete_fields = ("user",)
    actions = ["revoke_selected"]

    def get_autocomplete_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # The search answers only those who may see users; to anyone else it is refused, so they get a
        # plain list (of themselves alone).
        return self.autocomplete_fields if _may_change_users(request.user) else ()

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "user":
            # The choice is validated against this queryset: the form refuses anyone else.
            kwargs["queryset"] = owners_for(request.user, User.objects.all())
            kwargs["error_messages"] = {"invalid_choice": NOT_YOURS_TO_KEY}
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request: HttpRequest, obj: APIKey | None = None, **kwargs):
        if obj is None:
            kwargs["form"] = NewAPIKeyForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: APIKey | None = None) -> tuple[str, ...]:
        return CHANGE_FIELDS if obj else ADD_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: APIKey | None = None) -> tuple[str, ...]:
        return tuple(field for field in CHANGE_FIELDS if field not in EDITABLE) if obj else ()

    def save_model(self, request: HttpRequest, obj: APIKey, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        if not may_make_key_for(request.user, obj.user):  # again, whatever the form let through
            raise PermissionDenied(NOT_YOURS_TO_KEY)
        created, raw_key = create_api_key(user=obj.user, name=obj.name, expires=obj.expires)
        # The admin goes on with `obj` (it logs the addition and answers with it): make it the row just
        # created. The raw key rides along in memory, for response_add alone; it is never saved.
        vars(obj).update(vars(created))
        obj.raw_key_shown_once = raw_key

    def response_add(self, request: HttpRequest, obj: APIKey, post_url_continue: str | None = None) -> HttpResponse:
        """Instead of redirecting, show the key this once (admin pages are never cached)."""
        context = {
            **self.admin_site.each_context(request),
            "title": "API key created",
            "opts": self.opts,
            "api_key": obj,
            "raw_key": obj.raw_key_shown_once,
        }
        return TemplateResponse(request, "admin/apikeys/apikey/created.html", context)

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> None:
        revoked = revoke_api_keys(queryset=queryset)
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)


class APIKeyInline(admin.TabularInline):
    """The user's keys, read-only, on the user's own admin page; each links to its page."""

    model = APIKey
    fields = ("name", "prefix", "created", "last_used", "expires", "revoked")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    verbose_name_plural = "API keys"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class APIKeyOwnerSearchOnUsers(admin.ModelAdmin):
    """The users' search as the API key form's autocomplete asks it: only those the staff user may make a
    key for. A mixin for the user admin (chatgateway/admin.py), whose search the autocomplete runs."""

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        asked_by = (request.GET.get("app_label"), request.GET.get("model_name"), request.GET.get("field_name"))
        if asked_by == (APIKey._meta.app_label, APIKey._meta.model_name, "user"):
            queryset = owners_for(request.user, queryset)
        return queryset, may_have_duplicates


class APIKeyActionsOnUsers(admin.ModelAdmin):
    """The API keys' part of the users' list: revoking a user's keys with their tokens. A mixin for the
    user admin (chatgateway/admin.py)."""

    @admin.action(description="Revoke API keys and tokens of the selected users", permissions=["change"])
    def revoke_keys_and_tokens(self, request: HttpRequest, queryset: QuerySet) -> None:
        keys = revoke_api_keys(queryset=APIKey.objects.filter(user__in=queryset))
        users = list(queryset)
        for user in users:
            user.revoke_tokens()
        self.message_user(
            request, f"Revoked {keys} API key(s) and every token of {len(users)} user(s).", messages.SUCCESS
        )
