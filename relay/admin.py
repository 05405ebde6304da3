"""What the relay adds to other apps' admin pages (put together in chatgateway/admin.py)."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from providers.catalog import provider_entry
from providers.models import Provider
from relay.upstream.probe import probe_provider


class ProviderConnectionTest:
    """The providers' admin action "Test the connection and keys": each key of each selected provider,
    disabled and refused ones too, asked for the provider's models, and what each got."""

    @admin.action(description="Test the connection and keys of the selected providers", permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        for provider in queryset.prefetch_related("keys"):
            entry = provider_entry(provider, every_key=True)
            probes = async_to_sync(probe_provider)(entry)
            level = messages.SUCCESS if all(probe.works for probe in probes) else messages.WARNING
            results = "; ".join(f"{probe.key}: {probe.outcome}" for probe in probes)
            self.message_user(request, f"{provider.name}: {results}", level)
