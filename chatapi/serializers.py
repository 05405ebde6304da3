"""The original ChatAPI's bodies, as its clients know them; used to describe the endpoints in the schema.

The views read `u`, `p` and `q` themselves, to keep the original's messages word for word.
"""

from __future__ import annotations

from rest_framework import serializers


class LoginSerializer(serializers.Serializer):
    u = serializers.CharField(help_text="The username.")
    p = serializers.CharField(help_text="The password.")


class TokenMessageSerializer(serializers.Serializer):
    username = serializers.CharField()
    token = serializers.CharField(help_text="A JWT: send it as `Authorization: Bearer <token>`.")
    expiration_time = serializers.CharField(help_text="`YYYY-MM-DD HH:MM:SS` in the gateway's TIME_ZONE.")


class TokenResponseSerializer(serializers.Serializer):
    statu = serializers.BooleanField(help_text="Always true for a token.")
    message = TokenMessageSerializer()


class AskResponseSerializer(serializers.Serializer):
    statu = serializers.BooleanField(help_text="Always true for an answer.")
    message = serializers.CharField(help_text="The model's answer.")
