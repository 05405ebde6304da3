"""Issue 18: an outbox entry the database refuses for good (a usage record naming a user or an API key
deleted while its request was in flight) is not an outage. It is written without the vanished key, or
set aside under the outbox's `rejected/` with a log line, and never blocks the entries behind it; an
entry applied twice (a crash between its commit and its file's deletion) counts once.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time

import requests
from django.utils import timezone

from accounts.models import User
from accounts.tokens import issue_access_token
from apikeys.services import create_api_key
from quota.models import Quota
from relay import outbox
from relay.models import UsageRecord


def slow_chat_deleting_midway(gateway, user, credential: str, delete) -> requests.Response:
    """`user`'s /v1 request, which the development upstream answers after 3 s; `delete` runs once the
    request is reserved, while it waits on the upstream."""
    answer: dict[str, requests.Response] = {}

    def ask() -> None:
        answer["response"] = requests.post(
            f"{gateway.url}/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi [dev:delay=3]"}]},
            headers={"Authorization": f"Bearer {credential}"},
            timeout=20,
        )

    client = threading.Thread(target=ask)
    client.start()
    deadline = time.monotonic() + 2.5
    while not Quota.objects.filter(user_id=user.pk, used=1).exists():  # reserved: now on the upstream
        assert time.monotonic() < deadline, "the request is reserved"
        time.sleep(0.02)
    delete()
    client.join()
    return answer["response"]


def waiting(directory) -> int:
    """Entries in the outbox, claimed by a flush or not (a claimed file is no longer `*.json`)."""
    return len(list(directory.glob("*.json*"))) if directory.exists() else 0


def settled(directory, seconds: float = 5) -> None:
    """Until the outbox is empty (its flusher runs every CHATGATEWAY_OUTBOX_RETRY_SECONDS), or `seconds`."""
    deadline = time.monotonic() + seconds
    while waiting(directory) and time.monotonic() < deadline:
        time.sleep(0.1)


def test_a_user_deleted_while_their_request_is_in_flight_blocks_nothing(gateway, make_user, settings, caplog):
    settings.CHATGATEWAY_OUTBOX_RETRY_SECONDS = 0.1
    doomed, other = make_user("doomed"), make_user("other")

    with caplog.at_level(logging.WARNING, logger="relay"):
        response = slow_chat_deleting_midway(gateway, doomed, issue_access_token(doomed), doomed.delete)
        after = requests.post(
            f"{gateway.url}/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {issue_access_token(other)}"},
            timeout=20,
        )
        settled(settings.CHATGATEWAY_OUTBOX_DIR)

    assert (response.status_code, after.status_code) == (200, 200)  # the answer was the client's
    assert waiting(settings.CHATGATEWAY_OUTBOX_DIR) == 0  # nothing stuck
    assert outbox.rejected_count() == 1  # set aside where an administrator sees it
    assert not User.objects.filter(username="doomed").exists()
    assert list(UsageRecord.objects.values_list("user__username", flat=True)) == ["other"]
    other.quota.refresh_from_db()
    assert other.quota.tokens_used_on(timezone.localdate()) == after.json()["usage"]["total_tokens"]
    assert other.quota.tokens_reserved == 0
    assert any(
        r.levelno == logging.ERROR and "set aside" in r.getMessage() and "no longer exists" in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]


def test_a_key_deleted_while_its_request_is_in_flight_leaves_a_record_without_the_key(gateway, user, settings):
    settings.CHATGATEWAY_OUTBOX_RETRY_SECONDS = 0.1
    key, raw = create_api_key(user=user, name="laptop")

    response = slow_chat_deleting_midway(gateway, user, raw, key.delete)
    settled(settings.CHATGATEWAY_OUTBOX_DIR)

    assert response.status_code == 200
    assert (waiting(settings.CHATGATEWAY_OUTBOX_DIR), outbox.rejected_count()) == (0, 0)
    record = UsageRecord.objects.get()
    assert (record.user_id, record.api_key_id, record.total_tokens) == (
        user.pk,
        None,
        response.json()["usage"]["total_tokens"],
    )
    user.quota.refresh_from_db()
    assert user.quota.tokens_used_on(timezone.localdate()) == record.total_tokens
    assert user.quota.tokens_reserved == 0


def entries(directory) -> list:
    return sorted(directory.glob("*.json"))


def test_a_bad_entry_before_good_ones_is_set_aside_and_the_good_ones_land(
    transactional_db, make_user, database_fails, settings, caplog
):
    from rest_framework.test import APIClient

    doomed, ada = make_user("doomed"), make_user("ada")
    for who in (doomed, ada, ada):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_access_token(who)}")
        assert client.post("/api/chat/", {"prompt": "hi"}, format="json").status_code == 200
    first = entries(settings.CHATGATEWAY_OUTBOX_DIR)[0]
    assert json.loads(first.read_text())["record"]["user_id"] == doomed.pk  # the bad one comes first
    database_fails.undo()
    doomed.delete()

    with caplog.at_level(logging.ERROR, logger="relay"):
        assert outbox.flush() == 2

    assert (outbox.pending_count(), outbox.rejected_count()) == (0, 1)
    (rejected,) = entries(settings.CHATGATEWAY_OUTBOX_DIR / "rejected")
    assert rejected.name == first.name
    assert "no longer exists" in json.loads(rejected.read_text())["reason"]
    records = UsageRecord.objects.filter(user=ada)
    assert records.count() == 2
    ada.quota.refresh_from_db()
    assert ada.quota.tokens_used_on(timezone.localdate()) == sum(r.total_tokens for r in records)
    assert ada.quota.tokens_reserved == 0
    assert "set aside" in caplog.text


def test_an_unreadable_entry_is_set_aside_too(transactional_db, settings):
    directory = settings.CHATGATEWAY_OUTBOX_DIR
    directory.mkdir(parents=True)
    (directory / "1-bad.json").write_text("{not json")

    assert outbox.flush() == 0
    assert (outbox.pending_count(), outbox.rejected_count()) == (0, 1)


def test_an_entry_applied_twice_counts_once(api, user, database_fails, settings, tmp_path):
    api.post("/api/chat/", {"prompt": "hi"}, format="json")
    database_fails.undo()
    (pending,) = entries(settings.CHATGATEWAY_OUTBOX_DIR)
    copy = shutil.copy(pending, tmp_path / "copy.json")

    assert outbox.flush() == 1
    shutil.copy(copy, pending)  # as if the process had died between the commit and the unlink
    assert outbox.flush() == 0

    record = UsageRecord.objects.get()
    user.quota.refresh_from_db()
    assert user.quota.tokens_used_on(timezone.localdate()) == record.total_tokens
    assert user.quota.tokens_reserved == 0
    assert outbox.pending_count() == 0
