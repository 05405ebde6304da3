"""The per-user cap holds when many requests for a key arrive at once (real threads, real connections)."""

from __future__ import annotations

import threading

from django.db import connection

from apikeys.exceptions import TooManyAPIKeys
from apikeys.models import APIKey
from apikeys.services import create_api_key


def test_it_never_grants_more_keys_than_the_limit(transactional_db, make_user, settings):
    settings.CHATGATEWAY_MAX_API_KEYS_PER_USER = 3
    user = make_user("ada")
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def ask() -> None:
        try:
            start.wait()
            create_api_key(user=user, name="racing")
            outcomes.append("granted")
        except TooManyAPIKeys:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["granted"] * 3 + ["refused"] * 5
    assert APIKey.objects.filter(user=user).count() == 3
