"""A message the gateway cannot send is a 400 (or 415) that costs nothing and reaches no upstream."""

from __future__ import annotations

import pytest

from conftest import used_today
from conversations.models import Message
from conversations.tests.helpers import conversation
from relay.models import UsageRecord


@pytest.fixture
def chat(user):
    return conversation(user, messages=[("user", "Hi"), ("assistant", "Hello!")])


def assert_nothing_happened(user, chat, dev_upstream, received_before: int) -> None:
    assert used_today(user) == 0
    assert not UsageRecord.objects.exists()
    assert Message.objects.filter(conversation=chat).count() == 2
    assert dev_upstream.received_count == received_before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "content"),
        ({"content": ""}, "content"),
        ({"content": "   \n\t "}, "content"),
        ({"content": None}, "content"),
        ({"content": 42}, "content"),
        ({"content": ["Hi"]}, "content"),
        ({"content": "x" * 8001}, "content"),
        ({"content": "Hi", "stream": "yes"}, "stream"),
        ({"content": "Hi", "stream": 1}, "stream"),
        ({"content": "", "stream": True}, "content"),
    ],
)
def test_it_refuses_bad_input_with_a_400_naming_the_field(api, user, chat, dev_upstream, body, field):
    before = dev_upstream.received_count

    response = api.post(f"/api/conversations/{chat.pk}/messages/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert_nothing_happened(user, chat, dev_upstream, before)


def test_it_refuses_a_body_that_is_not_json_with_415(api, user, chat, dev_upstream):
    before = dev_upstream.received_count

    response = api.post(f"/api/conversations/{chat.pk}/messages/", {"content": "Hi"}, format="multipart")

    assert response.status_code == 415
    assert_nothing_happened(user, chat, dev_upstream, before)


def test_it_refuses_a_message_too_long_for_the_context_with_its_system_prompt(api, user, settings, dev_upstream):
    settings.CHATGATEWAY_CONVERSATION_CONTEXT_TOKENS = 100
    chat = conversation(user, system_prompt="s" * 200, messages=[("user", "Hi"), ("assistant", "Hello!")])
    before = dev_upstream.received_count

    response = api.post(f"/api/conversations/{chat.pk}/messages/", {"content": "m" * 200}, format="json")

    assert response.status_code == 400
    assert "context holds 100" in response.json()["content"][0]
    assert_nothing_happened(user, chat, dev_upstream, before)


def test_it_refuses_to_send_to_a_model_no_longer_offered_and_says_how_to_fix_it(api, user, dev_upstream):
    chat = conversation(user, model="gpt-3", messages=[("user", "Hi"), ("assistant", "Hello!")])
    before = dev_upstream.received_count

    response = api.post(f"/api/conversations/{chat.pk}/messages/", {"content": "Still there?"}, format="json")

    assert response.status_code == 400
    assert "PATCH" in response.json()["model"][0]
    assert_nothing_happened(user, chat, dev_upstream, before)


@pytest.mark.parametrize("body", [[], ["Hi"], "Hi", 42])
def test_a_body_that_is_not_an_object_is_a_400(api, user, chat, dev_upstream, body):
    before = dev_upstream.received_count

    response = api.post(f"/api/conversations/{chat.pk}/messages/", body, format="json")

    assert response.status_code == 400
    assert "Expected a dictionary" in response.json()["non_field_errors"][0]
    assert_nothing_happened(user, chat, dev_upstream, before)
