"""The page at /: Django's log-in form for visitors (session and CSRF), the chat page once logged in."""

from __future__ import annotations

import json
import re

from django.test import Client

from conftest import PASSWORD


def test_it_shows_the_log_in_form_to_a_visitor(db, client):
    response = client.get("/")

    assert response.status_code == 200
    assert b'id="login-form"' in response.content
    assert b'name="csrfmiddlewaretoken"' in response.content
    assert b'id="chat-config"' not in response.content
    assert "no-cache" in response["Cache-Control"]


def test_the_right_password_logs_the_user_in_and_leads_to_the_chat(client, user):
    response = client.post("/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
    page = client.get("/")
    assert b'id="composer"' in page.content
    assert user.username.encode() in page.content
    assert "private" in page["Cache-Control"]  # one user's page: never stored by a cache


def test_a_wrong_password_is_refused_with_a_message(client, user):
    response = client.post("/", {"username": user.username, "password": "wrong"})

    assert response.status_code == 200
    assert b"Please enter a correct username and password." in response.content
    assert "_auth_user_id" not in client.session


def test_a_log_in_without_the_csrf_token_is_refused(user):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_an_inactive_user_cannot_log_in(client, make_user):
    make_user("gone", is_active=False)

    response = client.post("/", {"username": "gone", "password": PASSWORD})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_chat_page_tells_its_script_the_api_and_the_models(client, user, settings):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", "gpt-4o"]
    client.force_login(user)

    page = client.get("/")

    config = json.loads(
        re.search(r'<script id="chat-config" type="application/json">(.*?)</script>', page.content.decode())[1]
    )
    assert config == {
        "urls": {"quota": "/api/quota/", "conversations": "/api/conversations/"},
        "models": ["gpt-4o-mini", "gpt-4o"],
        "defaultModel": settings.CHATGATEWAY_MODEL,
        "maxPromptChars": settings.CHATGATEWAY_MAX_PROMPT_CHARS,
        "teams": [],  # in no team: nothing to pick
    }
    assert b'<select id="model">' in page.content  # more than one model: the user picks


def test_with_one_model_there_is_nothing_to_pick(client, user, settings):
    settings.CHATGATEWAY_MODELS = [settings.CHATGATEWAY_MODEL]
    client.force_login(user)

    assert b'<select id="model">' not in client.get("/").content


def test_the_page_loads_no_script_or_style_from_elsewhere(client, user):
    client.force_login(user)

    page = client.get("/").content.decode()

    loaded = re.findall(r'<(?:script|link)[^>]* (?:src|href)="([^"]*)"', page)
    assert "/static/web/vendor/marked/marked.umd.js" in loaded
    assert "/static/web/vendor/dompurify/purify.min.js" in loaded
    assert all((url.startswith("/") and not url.startswith("//")) or url == "data:," for url in loaded), loaded
