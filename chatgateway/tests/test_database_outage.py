"""The database goes away and comes back under a running gateway, for real: a PostgreSQL server of the
test's own (devtools.pgcluster) is stopped (`pg_ctl stop -m fast`, every session cut) and started
again on the same port, under two uvicorn worker processes with DEBUG off.

While it is gone every endpoint that needs it answers 503 in its own shape and /healthz says so; when it
is back the gateway serves again without a restart, and the relay that was answered while the database
went away is neither lost nor left uncharged.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from devtools.pgcluster import PrivatePostgres, postgres_binaries
from devtools.testing import GatewayServer

pytestmark = pytest.mark.skipif(
    postgres_binaries() is None and os.environ.get("CI") != "true",  # in CI, a missing PostgreSQL fails
    reason="needs PostgreSQL's initdb and pg_ctl",
)

UNAVAILABLE = "The gateway's database is unavailable. Please try again shortly."


@pytest.fixture
def postgres():
    with PrivatePostgres() as pg:
        with psycopg.connect(pg.url().replace("postgres://", "postgresql://", 1), autocommit=True) as admin:
            admin.execute("CREATE DATABASE gateway")
        yield pg


@pytest.fixture
def server(postgres, dev_upstream, tmp_path):
    settings = {"DATABASE_POOL_TIMEOUT": "2", "CHATGATEWAY_OUTBOX_RETRY_SECONDS": "0.2", "OPENAI_TIMEOUT": "10"}
    with GatewayServer(
        tmp_path=tmp_path, upstream_url=dev_upstream.url, upstream_key=dev_upstream.key, workers=2,
        database_url=postgres.url("gateway"), env=settings,
    ) as gateway:  # fmt: skip
        gateway.python(
            "from accounts.models import User; "
            "user = User.objects.create_user(username='ada', password='pw-ada-123'); "
            "user.quota.daily_limit = 100; user.quota.save()"
        )
        yield gateway


def token(server) -> str:
    return requests.post(f"{server.url}/token", json={"u": "ada", "p": "pw-ada-123"}, timeout=10).json()["message"][
        "token"
    ]


def requests_needing_the_database(server, bearer: str) -> dict[str, requests.Response]:
    """One request to each endpoint that needs the database, all at once."""
    auth = {"Authorization": f"Bearer {bearer}"}
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    url = server.url
    calls = {
        "/healthz": lambda: requests.get(f"{url}/healthz", timeout=10),
        "/token": lambda: requests.post(f"{url}/token", json={"u": "ada", "p": "pw-ada-123"}, timeout=10),
        "/api": lambda: requests.get(f"{url}/api", params={"q": "hi"}, headers=auth, timeout=10),
        "/api/token/": lambda: requests.post(
            f"{url}/api/token/", json={"username": "ada", "password": "x"}, timeout=10
        ),
        "/api/chat/": lambda: requests.post(f"{url}/api/chat/", json={"prompt": "hi"}, headers=auth, timeout=10),
        "/api/quota/": lambda: requests.get(f"{url}/api/quota/", headers=auth, timeout=10),
        "/api/usage/": lambda: requests.get(f"{url}/api/usage/", headers=auth, timeout=10),
        "/v1/chat/completions": lambda: requests.post(
            f"{url}/v1/chat/completions", json=chat, headers=auth, timeout=10
        ),
        "/v1 streamed": lambda: requests.post(
            f"{url}/v1/chat/completions", json={**chat, "stream": True}, headers=auth, timeout=10
        ),
        # Outside DRF: Django's own view, and the session middleware's lookup.
        "/admin/": lambda: requests.get(f"{url}/admin/", cookies={"sessionid": "a-session"}, timeout=10),
    }
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = {endpoint: pool.submit(call) for endpoint, call in calls.items()}
    return {endpoint: future.result() for endpoint, future in futures.items()}


def message(endpoint: str, response: requests.Response) -> str:
    """The 503's message, in the endpoint's own shape."""
    if endpoint == "/admin/":  # Django's own pages: plain text
        return response.text
    body = response.json()
    if endpoint == "/healthz":
        return body["status"]
    if endpoint in {"/token", "/api"}:
        assert body["statu"] is False
        return body["message"]
    if endpoint.startswith("/v1"):
        assert body["error"]["type"] == "server_error"
        return body["error"]["message"]
    return body["detail"]


def counts(server) -> tuple[int, int, int]:
    """(requests used today, successful usage records, tokens used vs. recorded match)."""
    out = server.python(
        "from django.utils import timezone; from django.db.models import Sum; "
        "from accounts.models import User; from relay.models import UsageRecord; "
        "q = User.objects.get(username='ada').quota; today = timezone.localdate(); "
        "ok = UsageRecord.objects.filter(status_code=200); "
        "print(q.used_on(today), ok.count(), q.tokens_used_on(today) - (ok.aggregate(t=Sum('total_tokens'))['t'] or 0))"
    )
    used, records, token_gap = (int(n) for n in out.split())
    return used, records, token_gap


def test_the_gateway_answers_503_while_the_database_is_gone_and_serves_again_when_it_is_back(
    server, postgres, dev_upstream
):
    bearer = token(server)
    assert requests.get(f"{server.url}/api", params={"q": "before"}, headers={"Authorization": f"Bearer {bearer}"},
                        timeout=10).status_code == 200  # fmt: skip

    # A relay whose upstream answers after the database went away.
    in_flight: dict[str, requests.Response] = {}
    received = dev_upstream.received_count
    asking = threading.Thread(target=lambda: in_flight.update(response=requests.post(
        f"{server.url}/api/chat/", json={"prompt": "slow [dev:delay=1.5]"},
        headers={"Authorization": f"Bearer {bearer}"}, timeout=20,
    )))  # fmt: skip
    asking.start()
    while dev_upstream.received_count == received:
        time.sleep(0.02)
    postgres.stop()

    started = time.monotonic()
    down = requests_needing_the_database(server, bearer)
    asking.join()
    for endpoint, response in down.items():
        assert response.status_code == 503, endpoint
        assert message(endpoint, response) == ("unavailable" if endpoint == "/healthz" else UNAVAILABLE), endpoint
        assert "Traceback" not in response.text
    assert time.monotonic() - started < 8, "each 503 comes within DATABASE_POOL_TIMEOUT (2 s here)"
    assert in_flight["response"].status_code == 200, "an answer the upstream gave is delivered"

    postgres.start()
    deadline = time.monotonic() + 15
    while requests.get(f"{server.url}/healthz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the gateway reconnects by itself"
        time.sleep(0.2)
    after = [
        requests.get(f"{server.url}/api", params={"q": f"after {n}"}, headers={"Authorization": f"Bearer {bearer}"},
                     timeout=10).status_code
        for n in range(20)
    ]  # fmt: skip

    assert after == [200] * 20, "no stale pooled connection fails a request"
    deadline = time.monotonic() + 15
    while counts(server)[1] < 22:
        assert time.monotonic() < deadline, "the outbox's record lands"
        time.sleep(0.3)
    assert counts(server) == (22, 22, 0)  # 1 before, the one in flight, 20 after: each counted and recorded
