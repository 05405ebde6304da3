"""Which language the gateway answers in: the browser's, or the one picked on the page; /v1 always English."""

from __future__ import annotations

from rest_framework.test import APIClient


def test_the_page_follows_the_browsers_language(db, client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.8")

    assert response["Content-Language"] == "zh-hans"
    assert "登录" in response.content.decode()
    assert "Accept-Language" in response["Vary"]


def test_a_language_it_does_not_speak_falls_back_to_english(db, client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")

    assert response["Content-Language"] == "en"
    assert "Log in" in response.content.decode()


def test_the_language_picked_on_the_page_wins_over_the_browsers(db, client):
    switched = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})

    assert switched.status_code == 302
    assert switched["Location"] == "/"
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en")
    assert response["Content-Language"] == "zh-hans"


def test_the_api_answers_errors_in_the_browsers_language(db):
    response = APIClient().get("/api/quota/", HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert response.status_code == 401
    assert response.json() == {"detail": "身份认证信息未提供。"}  # DRF's own translation


def test_v1_answers_in_english_whatever_the_client_asks_as_openai_does(db):
    response = APIClient().get("/v1/models", HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Authentication credentials were not provided."
    assert "Content-Language" not in response
    assert "Accept-Language" not in response.get("Vary", "")
