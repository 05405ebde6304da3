"""Starting a conversation costs no quota, so a user's conversations are capped: how many they keep, the
characters of their system prompts, and how many they start a minute; concurrent starts can't pass a cap."""

from __future__ import annotations

import datetime as dt
import threading

import requests
import time_machine
from django.utils import timezone

from accounts.tokens import issue_access_token
from conversations.models import Conversation
from conversations.services import start_conversation


def _start(gateway, token: str, **body) -> requests.Response:
    return requests.post(
        f"{gateway.url}/api/conversations/", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=20
    )


def test_it_refuses_one_conversation_past_the_cap_until_one_is_deleted(gateway, user, settings):
    settings.CHATGATEWAY_MAX_CONVERSATIONS_PER_USER = 3
    token = issue_access_token(user)
    kept = [_start(gateway, token).json()["id"] for _ in range(3)]

    refused = _start(gateway, token)
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("You already keep 3 conversations, the most allowed.")
    assert Conversation.objects.filter(user=user).count() == 3

    headers = {"Authorization": f"Bearer {token}"}
    requests.delete(f"{gateway.url}/api/conversations/{kept[0]}/", headers=headers, timeout=20)
    assert _start(gateway, token).status_code == 201


def test_concurrent_starts_never_pass_the_cap(gateway, user, settings):
    settings.CHATGATEWAY_MAX_CONVERSATIONS_PER_USER = 5
    token = issue_access_token(user)
    statuses: list[int] = []
    barrier = threading.Barrier(12)

    def start() -> None:
        barrier.wait()
        statuses.append(_start(gateway, token).status_code)

    threads = [threading.Thread(target=start) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] * 5 + [400] * 7
    assert Conversation.objects.filter(user=user).count() == 5


def test_it_refuses_system_prompts_past_the_users_total_on_start_and_on_edit(gateway, user, settings):
    settings.CHATGATEWAY_MAX_SYSTEM_PROMPT_CHARS_PER_USER = 100
    token = issue_access_token(user)
    first = _start(gateway, token, system_prompt="x" * 60).json()

    refused = _start(gateway, token, system_prompt="y" * 41)
    assert refused.status_code == 400
    assert "system prompts would hold more than 100 characters" in refused.json()["detail"]
    assert _start(gateway, token, system_prompt="y" * 40).status_code == 201

    headers = {"Authorization": f"Bearer {token}"}
    grown = requests.patch(
        f"{gateway.url}/api/conversations/{first['id']}/", json={"system_prompt": "x" * 61}, headers=headers, timeout=20
    )
    assert grown.status_code == 400
    assert Conversation.objects.get(pk=first["id"]).system_prompt == "x" * 60
    shrunk = requests.patch(
        f"{gateway.url}/api/conversations/{first['id']}/", json={"system_prompt": "short"}, headers=headers, timeout=20
    )
    assert shrunk.status_code == 200


def test_it_answers_429_with_retry_after_past_the_starts_a_minute(gateway, user, settings):
    settings.CHATGATEWAY_CONVERSATIONS_PER_MINUTE = 3
    token = issue_access_token(user)
    assert [_start(gateway, token).status_code for _ in range(3)] == [201] * 3

    refused = _start(gateway, token)

    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["detail"].startswith("You may start 3 conversations a minute.")
    assert Conversation.objects.filter(user=user).count() == 3


def test_the_minute_passes_and_starting_is_allowed_again(user, settings):
    settings.CHATGATEWAY_CONVERSATIONS_PER_MINUTE = 2
    with time_machine.travel(timezone.now(), tick=False) as clock:
        start_conversation(user_id=user.pk)
        start_conversation(user_id=user.pk)
        clock.shift(dt.timedelta(seconds=61))

        assert start_conversation(user_id=user.pk).user_id == user.pk
