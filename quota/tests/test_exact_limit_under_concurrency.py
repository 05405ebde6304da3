"""With one request left and 20 arriving at once, exactly one succeeds: in one threaded server,
and across several server processes sharing the database (SQLite or PostgreSQL, whichever the
suite runs on)."""

import threading
from collections import Counter

import pytest
import requests

from accounts.tokens import issue_access_token
from devtools.testing import GatewayServer
from quota.services import quota_status
from relay.models import UsageRecord

CLIENTS = 20


def ask_all_at_once(url: str, token: str, clients: int = CLIENTS) -> Counter:
    """`clients` threads, released together by a barrier, each asking once; the statuses seen."""
    barrier = threading.Barrier(clients)
    statuses: list[int | str] = []

    def one() -> None:
        session = requests.Session()
        barrier.wait()
        try:
            response = session.get(
                f"{url}/api", params={"q": "race"}, headers={"Authorization": f"Bearer {token}"}, timeout=60
            )
        except requests.RequestException as exc:
            statuses.append(type(exc).__name__)
        else:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return Counter(statuses)


@pytest.mark.django_db(transaction=True)
def test_one_request_left_and_twenty_at_once_in_a_threaded_server_grants_exactly_one(live_server, make_user):
    user = make_user(daily_limit=3)
    token = str(issue_access_token(user))
    assert ask_all_at_once(live_server.url, token, clients=2) == Counter({200: 2})

    statuses = ask_all_at_once(live_server.url, token)

    assert statuses == Counter({200: 1, 429: CLIENTS - 1})
    assert quota_status(user_id=user.pk).used_today == 3
    assert UsageRecord.objects.filter(user=user, error="").count() == 3


def test_one_request_left_and_twenty_at_once_across_server_processes_grants_exactly_one(tmp_path, dev_upstream):
    with GatewayServer(tmp_path=tmp_path, upstream_url=dev_upstream.url, upstream_key=dev_upstream.key) as server:
        token = server.python(
            "from accounts.models import User; from accounts.tokens import issue_access_token; "
            "u = User.objects.create_user('racer', password='x'); u.quota.daily_limit = 3; u.quota.save(); "
            "print(issue_access_token(u))"
        ).strip()
        assert ask_all_at_once(server.url, token, clients=2) == Counter({200: 2})

        statuses = ask_all_at_once(server.url, token)

        counts = server.python(
            "from quota.models import Quota; from relay.models import UsageRecord; "
            "q = Quota.objects.get(user__username='racer'); "
            "print(q.used, UsageRecord.objects.filter(user__username='racer', error='').count())"
        ).split()
    assert statuses == Counter({200: 1, 429: CLIENTS - 1})
    assert counts == ["3", "3"]
