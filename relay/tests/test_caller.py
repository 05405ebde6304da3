"""Every relay endpoint records the API key a request came with, and none for a JWT or a session;
the relay itself knows nothing of the apikeys app (relay.http.caller_of)."""

from __future__ import annotations

import requests
from rest_framework.test import APIClient

from accounts.tokens import issue_access_token
from apikeys.services import create_api_key
from conversations.tests.helpers import conversation
from relay.models import UsageRecord


def _asks(gateway, user, credential: str) -> None:
    """/api/chat/, then a conversation's message, not streamed and streamed."""
    headers = {"Authorization": f"Bearer {credential}"}
    chat = conversation(user)
    messages = f"{gateway.url}/api/conversations/{chat.pk}/messages/"
    assert requests.post(f"{gateway.url}/api/chat/", json={"prompt": "hi"}, headers=headers, timeout=10).ok
    assert requests.post(messages, json={"content": "hi"}, headers=headers, timeout=10).status_code == 201
    streamed = requests.post(messages, json={"content": "hi", "stream": True}, headers=headers, timeout=10)
    assert streamed.status_code == 200
    assert b'"type": "done"' in streamed.content


def test_an_api_key_is_recorded_on_every_endpoint(gateway, user):
    api_key, raw = create_api_key(user=user, name="laptop")

    _asks(gateway, user, raw)

    assert list(UsageRecord.objects.values_list("api_key", flat=True)) == [api_key.pk] * 3


def test_a_jwt_or_a_session_records_no_key(gateway, user):
    _asks(gateway, user, str(issue_access_token(user)))
    session = APIClient()
    session.force_login(user)
    assert session.post("/api/chat/", {"prompt": "hi"}, format="json").status_code == 200

    assert list(UsageRecord.objects.values_list("api_key", flat=True)) == [None] * 4
