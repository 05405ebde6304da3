from rest_framework import serializers

from core.money import from_nanos


class LimitReadingSerializer(serializers.Serializer):
    """One limit in force beyond the daily ones, and where the caller stands on it in its current period."""

    whose = serializers.SerializerMethodField(help_text='"user" (their own or their plan\'s), "api_key" or "team".')
    team = serializers.SerializerMethodField(help_text="The team's name, for a team's limit.")
    metric = serializers.SerializerMethodField(help_text='"requests", "tokens" or "cost" (in `currency`).')
    period = serializers.SerializerMethodField(help_text='"minute", "day", "week", "month" or "total" (never resets).')
    limit = serializers.SerializerMethodField(help_text="A count, or money as a decimal string.")
    used = serializers.SerializerMethodField()
    in_flight = serializers.SerializerMethodField(help_text="Set aside by requests not yet ended.")
    remaining = serializers.SerializerMethodField()
    resets_at = serializers.DateTimeField(allow_null=True, help_text="null: a total, which never resets.")

    def get_whose(self, reading) -> str:
        return reading.limit.scope

    def get_team(self, reading) -> str | None:
        return reading.limit.name or None

    def get_metric(self, reading) -> str:
        return reading.limit.metric

    def get_period(self, reading) -> str:
        return reading.limit.period

    def _value(self, reading, units: int) -> int | str:
        return f"{from_nanos(units).normalize():f}" if reading.limit.metric == "cost" else units

    def get_limit(self, reading) -> int | str:
        return self._value(reading, reading.limit.units)

    def get_used(self, reading) -> int | str:
        return self._value(reading, reading.used)

    def get_in_flight(self, reading) -> int | str:
        return self._value(reading, reading.reserved)

    def get_remaining(self, reading) -> int | str:
        return self._value(reading, reading.remaining)


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
    limits = LimitReadingSerializer(
        many=True,
        help_text="Every other limit in force for a request like this one: the API key's, the user's own or "
        "their plan's, and the team's (the one named by X-ChatGateway-Team, else the key's, else the default).",
    )
    currency = serializers.CharField(help_text="The currency of every cost, e.g. USD.")
