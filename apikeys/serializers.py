from __future__ import annotations

from rest_framework import serializers

from apikeys.models import APIKey
from core.fields import TextField


class NewAPIKeySerializer(serializers.ModelSerializer):
    """What a user asks for: a name, and optionally when the key expires (in the future)."""

    name = TextField(max_length=100)  # a JSON string: 5 or true is not a name

    class Meta:
        model = APIKey
        fields = ("name", "expires")


class APIKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = APIKey
        fields = ("id", "name", "prefix", "created", "last_used", "expires", "revoked")
        read_only_fields = fields


class CreatedAPIKeySerializer(serializers.ModelSerializer):
    """A key just made, with the key itself: the one time it is ever shown."""

    key = serializers.SerializerMethodField()

    class Meta:
        model = APIKey
        fields = ("id", "name", "prefix", "key", "created", "expires")
        read_only_fields = fields

    def get_key(self, api_key: APIKey) -> str:
        return self.context["raw_key"]
