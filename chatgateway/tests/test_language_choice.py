"""Which language the gateway answers in: the browser's, or the one picked on the page; /v1 always English."""

from __future__ import annotations

import json

import requests
from django.conf import settings
from django.utils.dateformat import format as format_date
from django.utils.timezone import localtime
from rest_framework.test import APIClient

from accounts.tokens import issue_access_token
from conftest import bearer_client
from quota.clock import next_reset


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


def test_the_gateways_own_messages_come_in_the_clients_language(db, client, make_user):
    make_user("ada")

    refused = client.post(
        "/token", {"u": "ada", "p": "wrong"}, content_type="application/json", HTTP_ACCEPT_LANGUAGE="zh-CN"
    )

    assert refused.status_code == 401
    assert refused.json() == {"statu": False, "message": "用户名或密码错误"}


def test_the_daily_limit_is_told_in_chinese_with_its_reset_time(make_user):
    api = bearer_client(make_user("ada", daily_limit=1))
    assert api.post("/api/chat/", {"prompt": "one"}, format="json").status_code == 200

    refused = api.post("/api/chat/", {"prompt": "two"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-CN")

    resets = format_date(localtime(next_reset()), "Y-m-d H:i T")
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith(f"已达到每日 1 次请求的限额。额度将于 {resets} 重置。")


def test_an_upstream_failure_in_the_middle_of_a_stream_is_told_in_chinese(gateway, make_user):
    user = make_user("ada")
    chat = requests.post(f"{gateway.url}/api/conversations/", json={}, headers=_bearer(user), timeout=10).json()

    with requests.post(
        f"{gateway.url}/api/conversations/{chat['id']}/messages/",
        json={"content": "Go [dev:chunks=6] [dev:error_event]", "stream": True},
        headers={**_bearer(user), "Accept-Language": "zh-CN"},
        stream=True,
        timeout=10,
    ) as response:
        events = [json.loads(line[len(b"data: ") :]) for line in response.iter_lines() if line.startswith(b"data: ")]

    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["message"] == "上游模型服务未能作答。请稍后再试。"


def test_v1_tells_the_daily_limit_in_english_to_a_chinese_client(make_user):
    api = bearer_client(make_user("ada", daily_limit=1))
    body = {"model": settings.CHATGATEWAY_MODEL, "messages": [{"role": "user", "content": "hi"}]}
    assert api.post("/v1/chat/completions", body, format="json").status_code == 200

    refused = api.post("/v1/chat/completions", body, format="json", HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert refused.status_code == 429
    assert refused.json()["error"]["message"].startswith("Daily limit of 1 requests reached. It resets at ")


def _bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_access_token(user)}"}


def test_the_relay_lane_answers_in_the_clients_language_too(gateway, user):
    # /api and /v1 skip Django's middleware (core/lanes.py), which must not lose the language.
    headers = {"Authorization": f"Bearer {issue_access_token(user)}", "Accept-Language": "zh-CN"}

    asked = requests.get(f"{gateway.url}/api", headers=headers, timeout=10)
    openai_style = requests.post(f"{gateway.url}/v1/chat/completions", json={}, headers=headers, timeout=10)

    assert asked.status_code == 400
    assert asked.json() == {"statu": False, "message": "缺少问题：请在网址后加上 ?q=<你的问题>。"}  # noqa: RUF001
    assert asked.headers["Content-Language"] == "zh-hans"
    assert openai_style.status_code == 400
    assert openai_style.json()["error"]["message"].isascii()
