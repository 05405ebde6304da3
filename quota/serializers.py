from rest_framework import serializers


class QuotaStatusSerializer(serializers.Serializer):
    plan = serializers.CharField(allow_null=True, help_text="The user's plan, if any.")
    daily_limit = serializers.IntegerField(help_text="Requests a day.")
    used_today = serializers.IntegerField()
    remaining = serializers.IntegerField()
    daily_token_limit = serializers.IntegerField(allow_null=True, help_text="Tokens a day; null: unlimited.")
    tokens_used_today = serializers.IntegerField()
    tokens_remaining = serializers.IntegerField(
        allow_null=True, help_text="Tokens left for new requests (budgets of requests in flight are taken)."
    )
    resets_at = serializers.DateTimeField()
