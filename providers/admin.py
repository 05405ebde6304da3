"""The catalog's admin: providers with their keys, models with their deployments, prices.

A key's secret is write-only here: typed once (a password field, never filled back in), stored encrypted,
shown afterwards as its last four characters only. Saving a key's row with the field left blank keeps the
stored secret."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timezone import localtime

from providers import catalog
from providers.models import ENDPOINTS, Deployment, Model, Price, Provider, ProviderKey
from providers.services import reenable_refused_keys


class ProviderForm(forms.ModelForm):
    base_url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"size": 60}),
        help_text=Provider._meta.get_field("base_url").help_text,
    )
    endpoints = forms.MultipleChoiceField(
        choices=list(ENDPOINTS.items()),
        widget=forms.CheckboxSelectMultiple,
        help_text="The endpoints this provider speaks.",
    )

    class Meta:
        model = Provider
        fields = (
            "name", "kind", "base_url", "api_version", "enabled", "endpoints", "completion_cap",
            "extra_headers", "timeout", "max_retries",
        )  # fmt: skip


class ProviderKeyForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again; leave blank to keep the stored key.",
    )

    class Meta:
        model = ProviderKey
        fields = ("label", "secret", "enabled")

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("secret") and not self.cleaned_data.get("DELETE"):
            self.add_error("secret", "Type the key.")
        return cleaned

    def save(self, commit: bool = True) -> ProviderKey:
        secret = self.cleaned_data.get("secret")
        if secret:
            self.instance.set_secret(secret)
            # A new secret is a new chance: whatever refused the old one does not apply to it.
            self.instance.refused_at = None
            self.instance.last_error = ""
        return super().save(commit)


class ProviderKeyInline(admin.TabularInline):
    model = ProviderKey
    form = ProviderKeyForm
    fields = ("label", "secret", "ending", "enabled", "state")
    readonly_fields = ("ending", "state")
    extra = 0

    @admin.display(description="key")
    def ending(self, key: ProviderKey) -> str:
        return f"…{key.last4}" if key.pk else ""

    @admin.display(description="state")
    def state(self, key: ProviderKey) -> str:
        return key.state() if key.pk else ""


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    inlines = [ProviderKeyInline]
    list_display = (
        "name",
        "kind",
        "base_url",
        "enabled",
        "endpoint_list",
        "completion_cap",
        "keys_in_use",
        "keys_refused",
        "deployment_count",
        "managed_by_file",
    )
    list_filter = ("enabled", "kind", "managed_by_file")
    search_fields = ("name", "base_url")
    actions = ["reenable_refused_keys"]
    fieldsets = (
        (None, {"fields": ("name", "kind", "base_url", "api_version", "enabled")}),
        ("Capabilities", {"fields": ("endpoints", "completion_cap")}),
        ("Calls", {"fields": ("extra_headers", "timeout", "max_retries")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Provider]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _in_use=Count("keys", filter=Q(keys__enabled=True, keys__refused_at__isnull=True), distinct=True),
                _refused=Count("keys", filter=Q(keys__refused_at__isnull=False), distinct=True),
                _deployments=Count("deployments", distinct=True),
            )
        )

    @admin.display(description="endpoints")
    def endpoint_list(self, provider: Provider) -> str:
        return ", ".join(provider.endpoints)

    @admin.display(description="keys in use", ordering="_in_use")
    def keys_in_use(self, provider: Provider) -> int:
        return provider._in_use

    @admin.display(description="keys refused", ordering="_refused")
    def keys_refused(self, provider: Provider) -> int:
        return provider._refused

    @admin.display(description="deployments", ordering="_deployments")
    def deployment_count(self, provider: Provider) -> int:
        return provider._deployments

    @admin.action(description="Re-enable the refused keys of the selected providers", permissions=["change"])
    def reenable_refused_keys(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        count = reenable_refused_keys(keys=ProviderKey.objects.filter(provider__in=queryset))
        self.message_user(request, f"Re-enabled {count} refused key(s).", messages.SUCCESS)


class KeyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("in_use", "In use"), ("refused", "Refused"), ("disabled", "Disabled")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ProviderKey]) -> QuerySet[ProviderKey]:
        if self.value() == "in_use":
            return queryset.filter(enabled=True, refused_at__isnull=True)
        if self.value() == "refused":
            return queryset.filter(refused_at__isnull=False)
        if self.value() == "disabled":
            return queryset.filter(enabled=False, refused_at__isnull=True)
        return queryset


@admin.register(ProviderKey)
class ProviderKeyAdmin(admin.ModelAdmin):
    """Every provider's keys in one list, to find the refused ones; a key is edited on its provider's page."""

    form = ProviderKeyForm
    list_display = ("__str__", "provider", "enabled", "key_state", "refused_at", "created")
    list_filter = (KeyStateFilter, "provider")
    list_select_related = ("provider",)
    search_fields = ("label", "provider__name", "last4")
    actions = ["reenable_selected"]
    readonly_fields = ("key_state",)

    def get_fields(self, request: HttpRequest, obj: ProviderKey | None = None) -> tuple[str, ...]:
        return ("provider", "label", "secret", "enabled", "key_state")

    def get_form(self, request: HttpRequest, obj: ProviderKey | None = None, **kwargs):
        kwargs["fields"] = ("provider", "label", "secret", "enabled")
        return super().get_form(request, obj, **kwargs)

    @admin.display(description="state")
    def key_state(self, key: ProviderKey) -> str:
        return key.state() if key.pk else ""

    @admin.action(description="Re-enable the selected refused keys", permissions=["change"])
    def reenable_selected(self, request: HttpRequest, queryset: QuerySet[ProviderKey]) -> None:
        count = reenable_refused_keys(keys=queryset)
        self.message_user(request, f"Re-enabled {count} refused key(s).", messages.SUCCESS)


class DeploymentInline(admin.TabularInline):
    model = Deployment
    fields = ("provider", "upstream_model", "priority", "weight", "enabled", "health_state")
    readonly_fields = ("health_state",)
    extra = 0
    min_num = 1

    @admin.display(description="health (as the last server process to see it change)")
    def health_state(self, deployment: Deployment) -> str:
        if not deployment.pk or deployment.health_changed is None:
            return "in use" if deployment.pk else ""
        since = date_format(localtime(deployment.health_changed), "SHORT_DATETIME_FORMAT")
        error = f"; last error: {deployment.last_error}" if deployment.last_error else ""
        return f"{deployment.get_health_display()} since {since}{error}"


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    inlines = [DeploymentInline]
    list_display = ("name", "description", "enabled", "served_by", "allowed_plans", "managed_by_file")
    list_filter = ("enabled", "managed_by_file", "deployments__provider", "plans")
    search_fields = ("name", "description", "deployments__upstream_model")
    filter_horizontal = ("plans",)
    fields = ("name", "description", "enabled", "plans")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Model]:
        return super().get_queryset(request).prefetch_related("deployments__provider", "plans").distinct()

    @admin.display(description="deployments (priority: provider/model xweight)")
    def served_by(self, model: Model) -> str:
        return "; ".join(
            f"{deployment.priority}: {deployment}{'' if deployment.weight == 1 else f' x{deployment.weight}'}"
            + ("" if deployment.enabled else " (disabled)")
            + (" (resting)" if deployment.health == Deployment.Health.RESTING else "")
            for deployment in sorted(model.deployments.all(), key=lambda d: (d.priority, d.pk))
        )

    @admin.display(description="plans")
    def allowed_plans(self, model: Model) -> str:
        return ", ".join(plan.name for plan in model.plans.all()) or "all"


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    """The price table, in CHATGATEWAY_CURRENCY per million tokens. Saving bumps the catalog's version
    (providers/apps.py), so the next request is charged at the new price; records keep what they were."""

    list_display = ("priced", "input", "cached_input", "output", "valid_from", "in_force", "note")
    list_filter = ("valid_from", ("deployment", admin.EmptyFieldListFilter))
    search_fields = ("model_name", "deployment__upstream_model", "deployment__model__name", "note")
    list_select_related = ("deployment__provider",)
    fields = ("model_name", "deployment", "input", "cached_input", "output", "valid_from", "note")
    date_hierarchy = "valid_from"

    def get_form(self, request: HttpRequest, obj: Price | None = None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        currency = settings.CHATGATEWAY_CURRENCY
        for name in ("input", "cached_input", "output"):
            field = form.base_fields[name]
            field.help_text = f"{field.help_text} In {currency}."
        return form

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "deployment":
            kwargs["queryset"] = Deployment.objects.select_related("provider", "model")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="prices", ordering="model_name")
    def priced(self, price: Price) -> str:
        return f"{price.deployment} (deployment)" if price.deployment_id else price.model_name

    @admin.display(description="in force today", boolean=True)
    def in_force(self, price: Price) -> bool:
        """Whether this row is the one a request would be charged at today (for its name or deployment)."""
        prices = catalog.current().prices
        entries = (
            prices.by_deployment.get(price.deployment_id, ())
            if price.deployment_id
            else prices.by_name.get(price.model_name, ())
        )
        found = catalog.in_force(entries, timezone.localdate())
        return found is not None and found.id == price.pk
