"""Conversations in Django admin: listed, editable, their messages shown read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from conversations.tests.helpers import conversation


@pytest.fixture
def admin_client_logged_in(make_user) -> Client:
    admin = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client


def test_the_list_shows_conversations_with_their_owners(admin_client_logged_in, user):
    conversation(user, title="Kyoto trip")

    response = admin_client_logged_in.get("/admin/conversations/conversation/")

    assert response.status_code == 200
    assert "Kyoto trip" in response.content.decode()
    assert "ada" in response.content.decode()


def test_a_conversation_shows_its_messages_read_only(admin_client_logged_in, user):
    chat = conversation(user, title="Kyoto trip", messages=[("user", "Where to stay?"), ("assistant", "Gion.")])

    response = admin_client_logged_in.get(f"/admin/conversations/conversation/{chat.pk}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Where to stay?" in page
    assert "Gion." in page
    assert 'name="messages-0-content"' not in page, "messages must not be editable"


def test_staff_without_the_permission_cannot_read_conversations(make_user, user):
    conversation(user, title="private")
    clerk = make_user("clerk", is_staff=True)
    client = Client()
    client.force_login(clerk)

    assert client.get("/admin/conversations/conversation/").status_code == 403
