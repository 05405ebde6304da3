"""The shapes of `/api/usage/`: its filters, a record, a page of records."""

from __future__ import annotations

from django.utils.translation import gettext
from rest_framework import serializers

from relay.models import UsageRecord


class UsageFiltersSerializer(serializers.Serializer):
    """The query string of GET /api/usage/ (the page and page size are the paginator's)."""

    since = serializers.DateField(required=False, help_text="The first day to list, YYYY-MM-DD in TIME_ZONE.")
    until = serializers.DateField(required=False, help_text="The last day to list, YYYY-MM-DD in TIME_ZONE.")
    model = serializers.CharField(required=False, max_length=200, help_text="Only records of this model.")

    def validate(self, attrs: dict) -> dict:
        if "since" in attrs and "until" in attrs and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError(gettext("'since' is after 'until': give the earlier day as 'since'."))
        return attrs


class UsageRecordSerializer(serializers.ModelSerializer):
    """One relay attempt as its user sees it: never the texts or the upstream's request id."""

    cost = serializers.DecimalField(
        max_digits=19,
        decimal_places=9,
        source="cost_amount",
        read_only=True,
        help_text="What it was charged, in `currency`, exact (a decimal string, nine decimals); 0 for a failure.",
    )
    currency = serializers.CharField(
        read_only=True, help_text="The currency of `cost` (ISO 4217), as it was when charged; empty before prices."
    )

    class Meta:
        model = UsageRecord
        fields = [
            "id",
            "created",
            "day",
            "endpoint",
            "model",
            "team",
            "stream",
            "status_code",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "estimated",
            "cost",
            "currency",
            "latency_ms",
            "ttfb_ms",
            "error",
        ]
        read_only_fields = fields


class UsagePageSerializer(serializers.Serializer):
    """One page of GET /api/usage/ (DRF's page-number pagination)."""

    count = serializers.IntegerField(help_text="Records matching the filters, on all pages.")
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null on the first.")
    results = UsageRecordSerializer(many=True)
