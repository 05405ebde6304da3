"""POST /api/conversations/<id>/messages/ without streaming: the reply, kept, and what it cost."""

from __future__ import annotations

from rest_framework.test import APIClient

from apikeys.services import create_api_key
from conftest import used_today
from conversations.models import Conversation, Message
from conversations.tests.helpers import conversation
from relay.models import UsageRecord


def test_it_answers_with_the_message_the_reply_and_the_quota_after(api, user):
    chat = conversation(user)

    response = api.post(f"/api/conversations/{chat.pk}/messages/", {"content": "Name a colour."}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"message", "reply", "quota"}
    assert body["message"]["role"] == "user"
    assert body["message"]["content"] == "Name a colour."
    assert body["reply"]["role"] == "assistant"
    assert body["reply"]["content"].endswith("You said: Name a colour.")
    assert set(body["reply"]) == {"id", "role", "content", "created"}
    assert body["quota"] == api.get("/api/quota/").json()
    assert body["quota"]["used_today"] == 1


def test_it_keeps_the_message_and_the_reply_in_order(api, user):
    chat = conversation(user)

    api.post(f"/api/conversations/{chat.pk}/messages/", {"content": "first"}, format="json")
    api.post(f"/api/conversations/{chat.pk}/messages/", {"content": "second"}, format="json")

    kept = [(m["role"], m["content"]) for m in api.get(f"/api/conversations/{chat.pk}/").json()["messages"]]
    assert [role for role, _ in kept] == ["user", "assistant", "user", "assistant"]
    assert kept[0][1] == "first"
    assert kept[2][1] == "second"
    assert kept[3][1].endswith("You said: second")


def test_it_sends_the_system_prompt_and_the_history_upstream_with_the_conversations_model(
    api, user, settings, dev_upstream
):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", "gpt-4o"]
    chat = conversation(
        user, model="gpt-4o", system_prompt="Be brief.", messages=[("user", "Hi"), ("assistant", "Hello!")]
    )

    api.post(f"/api/conversations/{chat.pk}/messages/", {"content": "And again"}, format="json")

    sent = dev_upstream.received[-1]["body"]
    assert sent["model"] == "gpt-4o"
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "And again"},
    ]


def test_it_charges_one_request_and_records_it_as_a_conversation_message(api, user):
    chat = conversation(user)

    response = api.post(f"/api/conversations/{chat.pk}/messages/", {"content": "Count me"}, format="json")

    assert used_today(user) == 1
    record = UsageRecord.objects.get(user=user)
    assert record.endpoint == UsageRecord.Endpoint.CONVERSATION
    assert (record.status_code, record.stream, record.error) == (200, False, "")
    assert record.total_tokens > 0
    assert response["x-ratelimit-remaining-requests"] == "9"
    assert response["x-ratelimit-limit-requests"] == "10"


def test_it_moves_the_conversation_to_the_top_of_the_list(api, user):
    older = conversation(user, title="older")
    conversation(user, title="newer")

    api.post(f"/api/conversations/{older.pk}/messages/", {"content": "bump"}, format="json")

    titles = [c["title"] for c in api.get("/api/conversations/").json()["results"]]
    assert titles == ["older", "newer"]


def test_it_keeps_the_content_exactly_as_sent(api, user, dev_upstream):
    chat = conversation(user)
    content = "  indented code:\n\n    x = 1\n"

    api.post(f"/api/conversations/{chat.pk}/messages/", {"content": content}, format="json")

    assert Message.objects.get(conversation=chat, role="user").content == content
    assert dev_upstream.received[-1]["body"]["messages"][-1]["content"] == content
    assert Conversation.objects.get(pk=chat.pk).title == "indented code:"


def test_a_browser_session_sends_with_its_csrf_token_and_not_without(user):
    chat = conversation(user)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    secret = "k" * 32
    client.cookies["csrftoken"] = secret
    path = f"/api/conversations/{chat.pk}/messages/"

    refused = client.post(path, {"content": "no token"}, format="json")
    accepted = client.post(path, {"content": "with token"}, format="json", HTTP_X_CSRFTOKEN=secret)

    assert refused.status_code == 403
    assert accepted.status_code == 201
    assert used_today(user) == 1


def test_an_api_key_sends_and_is_named_in_the_usage_record(user):
    chat = conversation(user)
    api_key, raw_key = create_api_key(user=user, name="cli")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    response = client.post(f"/api/conversations/{chat.pk}/messages/", {"content": "by key"}, format="json")

    assert response.status_code == 201
    assert UsageRecord.objects.get(user=user).api_key == api_key


def test_it_needs_credentials(user):
    chat = conversation(user)

    response = APIClient().post(f"/api/conversations/{chat.pk}/messages/", {"content": "anyone?"}, format="json")

    assert response.status_code == 401
    assert not Message.objects.exists()
