"""The OpenAPI schema: valid, served to anyone at /api/schema/, and saying what the gateway does."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from core.openapi import openapi_document


@pytest.fixture(scope="module")
def document() -> dict:
    return openapi_document()


def operation(document: dict, method: str, path: str) -> dict:
    return document["paths"][path][method]


def test_it_passes_drf_spectaculars_validation_without_a_warning(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", tmp_path / "s.yaml"],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("credentials", [None, "Bearer not-a-token", "Bearer sk-not-a-key"])
def test_it_is_served_to_anyone_whatever_credentials_they_send(credentials):
    client = APIClient()
    if credentials:
        client.credentials(HTTP_AUTHORIZATION=credentials)

    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert response.json() == openapi_document()  # made under this test's settings, as the page is


def test_it_describes_every_endpoint_once(document):
    assert sorted(document["paths"]) == [
        "/api", "/api/chat/", "/api/conversations/", "/api/conversations/{id}/",
        "/api/conversations/{id}/messages/", "/api/keys/", "/api/keys/{id}/", "/api/quota/", "/api/token/",
        "/api/token/blacklist/", "/api/token/refresh/", "/api/token/verify/", "/api/usage/", "/healthz", "/token",
        "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models", "/v1/models/{model}",
        "/v1/responses", "/v1/responses/{response_id}", "/v1/responses/{response_id}/cancel",
        "/v1/responses/{response_id}/input_items",
    ]  # fmt: skip


def test_each_endpoint_names_the_credentials_it_takes(document):
    def schemes(method: str, path: str) -> list[str]:
        return [name for requirement in operation(document, method, path).get("security", []) for name in requirement]

    assert schemes("get", "/api") == ["jwtAuth"]  # never a session: a GET that spends quota
    assert schemes("post", "/api/chat/") == ["apiKeyAuth", "jwtAuth", "cookieAuth"]
    assert schemes("post", "/api/keys/") == ["jwtAuth", "cookieAuth"]  # a key can't make keys
    assert schemes("post", "/v1/chat/completions") == ["apiKeyAuth", "jwtAuth"]
    assert document["components"]["securitySchemes"]["apiKeyAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "sk-…",
        "description": "`Authorization: Bearer sk-…`, an API key made at `/api/keys/`.",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/api", "EnvelopeError"),
        ("/api/chat/", "Error"),
        ("/v1/chat/completions", "OpenAIError"),
        ("/v1/completions", "OpenAIError"),
        ("/v1/embeddings", "OpenAIError"),
        ("/v1/responses", "OpenAIError"),
    ],
)
def test_each_api_gives_its_own_error_shape_and_a_429_says_when_to_retry(document, path, error):
    method = "get" if path == "/api" else "post"
    responses = operation(document, method, path)["responses"]

    assert responses["429"]["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{error}"}
    assert responses["429"]["headers"]["Retry-After"]["required"] is True
    assert responses["200"]["headers"]["x-ratelimit-remaining-requests"]["required"] is True
    assert {"401", "502", "503", "504"} <= responses.keys()


def test_a_chat_completion_is_json_or_a_stream_of_events(document):
    answer = operation(document, "post", "/v1/chat/completions")["responses"]["200"]["content"]

    assert answer["application/json"]["schema"] == {"$ref": "#/components/schemas/ChatCompletion"}
    assert answer["text/event-stream"]["schema"]["required"] == ["data"]


def test_a_legacy_completion_is_json_or_a_stream_of_events_and_embeddings_json(document):
    completion = operation(document, "post", "/v1/completions")["responses"]["200"]["content"]
    embeddings = operation(document, "post", "/v1/embeddings")["responses"]["200"]["content"]

    assert completion["application/json"]["schema"] == {"$ref": "#/components/schemas/TextCompletion"}
    assert completion["text/event-stream"]["schema"]["required"] == ["data"]
    assert embeddings["application/json"]["schema"] == {"$ref": "#/components/schemas/EmbeddingList"}
    request = document["components"]["schemas"]["EmbeddingsRequest"]
    assert sorted(request["required"]) == ["input", "model"]
    assert len(request["properties"]["input"]["oneOf"]) == 4


def test_a_response_is_json_or_a_stream_of_typed_events(document):
    answer = operation(document, "post", "/v1/responses")["responses"]["200"]["content"]

    assert answer["application/json"]["schema"] == {"$ref": "#/components/schemas/ResponseObject"}
    assert answer["text/event-stream"]["schema"]["required"] == ["data"]
    assert sorted(document["components"]["schemas"]["ResponseRequest"]["required"]) == ["input", "model"]
    assert set(document["paths"]["/v1/responses/{response_id}"]) == {"get", "delete"}


def test_the_models_offered_are_the_configured_ones(settings):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", "deepseek-chat"]

    assert openapi_document()["components"]["schemas"]["ModelEnum"]["enum"] == ["gpt-4o-mini", "deepseek-chat"]
