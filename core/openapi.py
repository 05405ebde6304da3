"""How the gateway describes itself in its OpenAPI schema (drf-spectacular, served at /api/schema/).

The pieces every view's `extend_schema` shares: the credentials (a JWT, an API key, a browser
session), the error bodies of each of the three APIs with what each status code means, and the
rate-limit headers of relay answers. The error shapes are made in core.errors (and, for a
413, core.bodylimit); the fuzz test (chatgateway/tests/test_fuzz_schema.py) holds every
response to what is written here.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

# What each error status means, whichever API answers it.
ERROR_MEANINGS = {
    400: "Bad input: a body that is not JSON or of the wrong shape, a field missing or invalid, a prompt over "
    "the limits, or the upstream refusing the request itself. It costs nothing.",
    401: "No credentials, or credentials that are wrong, expired or revoked, or a user who is inactive.",
    403: "Refused: the user's daily limit is 0 (blocked by an administrator), or an API key was used where "
    "only a token or a session is taken.",
    404: "Not found.",
    413: "The request body is over CHATGATEWAY_MAX_BODY_BYTES.",
    415: "The body is not in a content type this endpoint reads.",
    429: "The daily limit (of requests or of tokens) is reached; Retry-After gives the seconds until it resets. "
    "On POST /api/conversations/: more than CHATGATEWAY_CONVERSATIONS_PER_MINUTE started in the last minute.",
    502: "The upstream failed, was unreachable, answered garbage, or refused the gateway's own credentials. "
    "It costs nothing.",
    503: "The upstream is rate-limiting the gateway (its Retry-After is passed on), or the gateway's database "
    "is unavailable. It costs nothing.",
    504: "The upstream gave no answer (or, for a stream, no first chunk) within OPENAI_TIMEOUT. It costs nothing.",
}


class BearerScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer …`: both the gateway's own credentials are sent so."""

    bearer_format = ""
    description = ""

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": self.bearer_format, "description": self.description}


class CheckedByCode(OpenApiSerializerExtension):
    """A serializer as drf-spectacular maps it, plus the rules its validation code enforces, which
    drf-spectacular can't see (a list not empty, one field or another, a setting's allowed values)."""

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return self.amend(schema)

    def amend(self, schema: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


def allowed_models() -> dict[str, Any]:
    """The schema of a model name: one of CHATGATEWAY_MODELS, read when the schema is made."""
    return {"type": "string", "enum": list(settings.CHATGATEWAY_MODELS), "description": "One of CHATGATEWAY_MODELS."}


def message_list(items: dict[str, Any]) -> dict[str, Any]:
    """The schema of a conversation: 1 to CHATGATEWAY_MAX_MESSAGES messages."""
    return {**items, "minItems": 1, "maxItems": settings.CHATGATEWAY_MAX_MESSAGES}


class ErrorSerializer(serializers.Serializer):
    """The REST API's error: one sentence for people."""

    detail = serializers.CharField()


class FieldErrorsSerializer(serializers.Serializer):
    """The REST API's 400: `{"detail": "…"}` for a body it can't read, or `{"<field>": ["…"]}`."""


class FieldErrorsExtension(OpenApiSerializerExtension):
    target_class = FieldErrorsSerializer

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {
            "type": "object",
            "description": 'Either `{"detail": "…"}`, or for invalid fields `{"<field>": ["…"]}` '
            "(`non_field_errors` for the request as a whole; nested fields nest).",
            "minProperties": 1,
            "additionalProperties": {
                "oneOf": [
                    {"type": "string"},
                    {"type": "array", "items": {}},
                    {"type": "object", "additionalProperties": True},
                ]
            },
        }


class EnvelopeErrorSerializer(serializers.Serializer):
    """The original ChatAPI's error envelope."""

    statu = serializers.BooleanField(help_text="Always false for an error.")
    message = serializers.CharField(help_text="What went wrong, for people.")


class OpenAIErrorDetailSerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField(help_text="`invalid_request_error`, `requests` (a 429) or `server_error`.")
    param = serializers.CharField(allow_null=True, help_text="The dotted path of the invalid field, if any.")
    code = serializers.CharField(allow_null=True, help_text="e.g. `invalid_api_key`, `model_not_found`.")


class OpenAIErrorSerializer(serializers.Serializer):
    """OpenAI's error shape, so that OpenAI's SDKs raise their own error classes."""

    error = OpenAIErrorDetailSerializer()


def _errors(serializer: type[serializers.Serializer], codes: tuple[int, ...]) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(
            FieldErrorsSerializer if code == 400 and serializer is ErrorSerializer else serializer,
            description=ERROR_MEANINGS[code],
        )
        for code in codes
    }


def rest_errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The REST API's (`/api/…/`) error responses for these status codes."""
    return _errors(ErrorSerializer, codes)


def envelope_errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The original ChatAPI's (`/token`, `/api`) error responses for these status codes."""
    return _errors(EnvelopeErrorSerializer, codes)


def openai_errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The OpenAI-compatible API's (`/v1/…`) error responses for these status codes."""
    return _errors(OpenAIErrorSerializer, codes)


# Headers of relay answers: (name, type, description, on which statuses required, on which optional).
_RELAY_HEADERS = [
    ("x-ratelimit-limit-requests", OpenApiTypes.INT, "Requests a day.", "answer", "refusal"),
    ("x-ratelimit-remaining-requests", OpenApiTypes.INT, "Requests left today.", "answer", "refusal"),
    ("x-ratelimit-reset-requests", OpenApiTypes.STR, "Time until midnight, e.g. `6h12m5s`.", "answer", "refusal"),
    ("x-ratelimit-limit-tokens", OpenApiTypes.INT, "Tokens a day, under a token limit.", None, "any"),
    (
        "x-ratelimit-remaining-tokens",
        OpenApiTypes.INT,
        "Tokens left today, under a token limit: after this request is settled; for a stream, after its "
        "reservation (its headers leave before its usage is known).",
        None,
        "any",
    ),
    ("x-ratelimit-reset-tokens", OpenApiTypes.STR, "Time until midnight, under a token limit.", None, "any"),
    (
        "x-ratelimit-limit-cost",
        OpenApiTypes.STR,
        "Money (a decimal, in x-ratelimit-cost-currency) of the binding cost limit, under one.",
        None,
        "any",
    ),
    ("x-ratelimit-remaining-cost", OpenApiTypes.STR, "Money left under the binding cost limit.", None, "any"),
    (
        "x-ratelimit-reset-cost",
        OpenApiTypes.STR,
        "Time until the binding cost limit resets (none: never).",
        None,
        "any",
    ),
    ("x-ratelimit-cost-currency", OpenApiTypes.STR, "The currency of the cost headers, e.g. `USD`.", None, "any"),
    ("x-chatgateway-limit", OpenApiTypes.STR, "The limit that refused: whose, period, metric.", None, "refusal"),
    ("x-should-retry", OpenApiTypes.STR, "`false` (on /v1): a retry can't succeed (today).", None, "unretried"),
]


def relay_headers(*, answered: tuple[int, ...] = (200,)) -> list[OpenApiParameter]:
    """The headers of a relay answer (statuses `answered`), of a daily limit (429), of a block (403), and of
    failures a retry can't mend (429, and a 502 for the gateway's own misconfiguration).

    The limits' headers are always on an answer and on a 429; a 403 has them when it is a block
    (not, say, a session's failed CSRF check).
    """
    statuses = {"answer": [*answered, 429], "refusal": [403], "any": [*answered, 403, 429], "unretried": [429, 502]}
    headers = []
    for name, kind, description, required_on, optional_on in _RELAY_HEADERS:
        if required_on:
            headers.append(_header(name, kind, description, statuses[required_on], required=True))
        headers.append(_header(name, kind, description, statuses[optional_on], required=False))
    return [
        *headers,
        _header("Retry-After", OpenApiTypes.INT, "Seconds until the daily limit resets.", [429], required=True),
        _header(
            "Retry-After", OpenApiTypes.INT, "Seconds the upstream asked to wait, if it did.", [503], required=False
        ),
    ]


def _header(name: str, kind: OpenApiTypes, description: str, codes: list[int], *, required: bool) -> OpenApiParameter:
    return OpenApiParameter(
        name, kind, OpenApiParameter.HEADER, required=required, response=codes, description=description
    )


def one_path_per_endpoint(endpoints: list[tuple[str, str, str, Any]]) -> list[tuple[str, str, str, Any]]:
    """Document each endpoint once, as its clients write it.

    `/api` is also served at `/api/`, and /v1's paths with or without a trailing slash (some tools add
    one); drf-spectacular would list each twice, once with the slash.
    """
    kept, seen = [], set()
    for path, path_regex, method, callback in endpoints:
        if path_regex.endswith("/?$"):
            path = path.rstrip("/")
        key = (path.rstrip("/"), method, getattr(callback, "cls", callback))
        if key not in seen:
            seen.add(key)
            kept.append((path, path_regex, method, callback))
    return kept


def openapi_document() -> dict[str, Any]:
    """The schema /api/schema/ serves, as plain JSON data."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
