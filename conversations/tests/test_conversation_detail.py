"""GET, PATCH and DELETE /api/conversations/<id>/."""

from __future__ import annotations

from conversations.models import Conversation, Message
from conversations.tests.helpers import conversation


def test_it_shows_the_conversation_with_its_messages_oldest_first(api, user):
    chat = conversation(user, title="Colours", messages=[("user", "Hi"), ("assistant", "Hello!"), ("user", "Bye")])

    response = api.get(f"/api/conversations/{chat.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "title", "model", "system_prompt", "created", "updated", "messages"}
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Bye"),
    ]
    assert all(set(m) == {"id", "role", "content", "created"} for m in body["messages"])


def test_it_edits_the_title_the_model_and_the_system_prompt(api, user, settings):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", "gpt-4o"]
    chat = conversation(user, title="Old")

    response = api.patch(
        f"/api/conversations/{chat.pk}/",
        {"title": "New", "model": "gpt-4o", "system_prompt": "Answer in French."},
        format="json",
    )

    assert response.status_code == 200
    chat.refresh_from_db()
    assert (chat.title, chat.model, chat.system_prompt) == ("New", "gpt-4o", "Answer in French.")
    assert response.json()["title"] == "New"


def test_an_edit_changes_only_the_fields_sent(api, user):
    chat = conversation(user, title="Keep", system_prompt="Be brief.")

    api.patch(f"/api/conversations/{chat.pk}/", {"title": "Changed"}, format="json")

    chat.refresh_from_db()
    assert (chat.title, chat.system_prompt) == ("Changed", "Be brief.")


def test_an_edit_of_nothing_changes_nothing_not_even_the_order(api, user):
    chat = conversation(user, title="Keep")
    before = Conversation.objects.get(pk=chat.pk).updated

    response = api.patch(f"/api/conversations/{chat.pk}/", {"id": 77, "created": "2020-01-01T00:00:00Z"}, format="json")

    assert response.status_code == 200
    assert response.json()["id"] == chat.pk
    chat.refresh_from_db()
    assert (chat.pk, chat.updated) == (response.json()["id"], before)
    assert chat.created > before.replace(year=2020)


def test_it_refuses_a_model_it_does_not_offer(api, user):
    chat = conversation(user)

    response = api.patch(f"/api/conversations/{chat.pk}/", {"model": "gpt-5-ultra"}, format="json")

    assert response.status_code == 400
    assert "model" in response.json()
    chat.refresh_from_db()
    assert chat.model == "gpt-4o-mini"


def test_it_deletes_the_conversation_with_its_messages(api, user):
    chat = conversation(user, messages=[("user", "Hi"), ("assistant", "Hello!")])

    response = api.delete(f"/api/conversations/{chat.pk}/")

    assert response.status_code == 204
    assert not Conversation.objects.exists()
    assert not Message.objects.exists()


def test_an_unknown_id_is_a_404(api):
    assert api.get("/api/conversations/999/").status_code == 404
