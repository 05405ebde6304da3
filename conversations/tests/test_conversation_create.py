"""POST /api/conversations/: every field optional, the model checked."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apikeys.services import create_api_key
from conversations.models import Conversation


def test_it_starts_an_empty_conversation_with_the_default_model(api, user, settings):
    response = api.post("/api/conversations/", {}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "title", "model", "system_prompt", "created", "updated"}
    assert (body["title"], body["model"], body["system_prompt"]) == ("", settings.CHATGATEWAY_MODEL, "")
    assert Conversation.objects.get(pk=body["id"]).user == user


def test_it_takes_a_title_an_allowed_model_and_a_system_prompt(api, settings):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", "gpt-4o"]

    response = api.post(
        "/api/conversations/",
        {"title": "  Trip plans ", "model": "gpt-4o", "system_prompt": "You are a travel agent.\n"},
        format="json",
    )

    body = response.json()
    assert (body["title"], body["model"]) == ("Trip plans", "gpt-4o")
    assert body["system_prompt"] == "You are a travel agent.\n"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "gpt-5-ultra"}, "model"),
        ({"model": 7}, "model"),
        ({"title": "x" * 201}, "title"),
        ({"title": ["a"]}, "title"),
        ({"system_prompt": "x" * 8001}, "system_prompt"),
        ({"system_prompt": None}, "system_prompt"),
    ],
)
def test_it_refuses_bad_fields_with_a_400_naming_them(api, body, field):
    response = api.post("/api/conversations/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Conversation.objects.exists()


def test_it_ignores_an_owner_sent_in_the_body(api, user, make_user):
    other = make_user("grace")

    response = api.post("/api/conversations/", {"user": other.pk, "title": "mine"}, format="json")

    assert Conversation.objects.get(pk=response.json()["id"]).user == user


def test_it_needs_credentials(db):
    response = APIClient().post("/api/conversations/", {}, format="json")

    assert response.status_code == 401


def test_an_api_key_works_like_a_token(user):
    _, raw_key = create_api_key(user=user, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    response = client.post("/api/conversations/", {"title": "from a script"}, format="json")

    assert response.status_code == 201


def test_a_browser_session_needs_its_csrf_token(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    secret = "k" * 32  # what the CSRF cookie holds; the page sends it back in X-CSRFToken
    client.cookies["csrftoken"] = secret

    refused = client.post("/api/conversations/", {"title": "no token"}, format="json")
    accepted = client.post("/api/conversations/", {"title": "with token"}, format="json", HTTP_X_CSRFTOKEN=secret)

    assert refused.status_code == 403
    assert accepted.status_code == 201
