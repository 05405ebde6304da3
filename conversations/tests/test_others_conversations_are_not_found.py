"""A user sees only their own conversations: another's is a 404 everywhere, and is left as it was."""

from __future__ import annotations

import pytest

from conftest import bearer_client, used_today
from conversations.models import Conversation, Message
from conversations.tests.helpers import conversation


@pytest.fixture
def others(make_user):
    grace = make_user("grace")
    return conversation(grace, title="Grace's", messages=[("user", "secret")])


def test_another_users_conversation_is_not_listed(api, user, others):
    mine = conversation(user, title="Mine")

    results = api.get("/api/conversations/").json()["results"]

    assert [c["id"] for c in results] == [mine.pk]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "", None),
        ("patch", "", {"title": "Taken"}),
        ("delete", "", None),
        ("post", "messages/", {"content": "Hello?"}),
        ("post", "messages/", {"content": "Hello?", "stream": True}),
    ],
)
def test_every_endpoint_answers_404_for_another_users_conversation(api, user, others, method, path, body):
    response = getattr(api, method)(f"/api/conversations/{others.pk}/{path}", body, format="json")

    assert response.status_code == 404
    assert "Grace" not in response.content.decode()
    others.refresh_from_db()
    assert others.title == "Grace's"
    assert Message.objects.filter(conversation=others).count() == 1
    assert used_today(user) == 0


def test_the_owner_still_sees_it(others):
    response = bearer_client(others.user).get(f"/api/conversations/{others.pk}/")

    assert response.status_code == 200
    assert Conversation.objects.count() == 1
