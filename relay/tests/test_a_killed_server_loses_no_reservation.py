"""A server process killed with SIGKILL in the middle of streams (or its host lost) leaves their
reservations behind as leases; another process gives them back, as failed calls that cost nothing,
and records each request as lost: at once for a user who would otherwise be refused, and within a
sweep for everyone. Real server processes, a real SIGKILL, on the suite's database (SQLite or
PostgreSQL)."""

from __future__ import annotations

import threading
import time

import openai
import pytest

from devtools.testing import GatewayServer

STREAMS = 4
SLOW = "[dev:chunks=80] [dev:interval=0.25] tell me a long story"  # 20 s, far longer than the test waits


@pytest.fixture
def doomed(tmp_path, dev_upstream):
    """One server process (to be killed) with a user of 4 requests and 20,000 tokens a day."""
    with GatewayServer(
        tmp_path=tmp_path, upstream_url=dev_upstream.url, upstream_key=dev_upstream.key, workers=1,
        env={"CHATGATEWAY_LEASE_SWEEP_SECONDS": "3600"},
    ) as server:  # fmt: skip
        server.token = server.python(
            "from accounts.models import User; from accounts.tokens import issue_access_token; "
            "u = User.objects.create_user('ada', password='x'); "
            "u.quota.daily_limit = 4; u.quota.daily_token_limit = 20000; u.quota.save(); "
            "print(issue_access_token(u))"
        ).strip()
        yield server


def open_streams_then_kill(server: GatewayServer, count: int) -> None:
    """`count` streams through the real SDK, each past its first chunk, then SIGKILL the server."""
    started = threading.Barrier(count + 1, timeout=60)
    errors: list[Exception] = []

    def stream() -> None:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=server.token, max_retries=0, timeout=60)
        chunks = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": SLOW}], stream=True, max_tokens=3000
        )
        next(iter(chunks))
        started.wait()
        try:
            for _ in chunks:
                pass
        except Exception as exc:  # the server died under it
            errors.append(exc)

    threads = [threading.Thread(target=stream) for _ in range(count)]
    for thread in threads:
        thread.start()
    started.wait()
    server.kill()
    for thread in threads:
        thread.join(timeout=30)
    assert len(errors) == count, "every stream was cut by the kill"


def counts(server: GatewayServer) -> list[str]:
    return (
        server.python(
            "from quota.models import Lease, Quota; from relay.models import UsageRecord; "
            "q = Quota.objects.get(user__username='ada'); "
            "lost = UsageRecord.objects.filter(error=UsageRecord.LOST); "
            "print(q.used, q.tokens_used, q.tokens_reserved, Lease.objects.count(), lost.count(), "
            "sorted(set(lost.values_list('status_code', 'stream', 'model', 'endpoint'))))"
        )
        .strip()
        .split(maxsplit=5)
    )


def test_a_user_held_back_by_a_killed_servers_streams_gets_them_back_on_the_next_request(doomed):
    open_streams_then_kill(doomed, STREAMS)
    assert counts(doomed)[:4] == ["4", "0", "12000", "4"], "the kill left four leases holding 12,000 tokens"

    with doomed.another_process() as survivor:  # its first sweep is an hour away: this is on demand
        client = openai.OpenAI(base_url=f"{survivor}/v1", api_key=doomed.token, max_retries=0, timeout=60)
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=10_000
        )

    used, tokens_used, reserved, leases, lost, kinds = counts(doomed)
    assert (used, reserved, leases) == ("1", "0", "0"), "only the new request counts"
    assert tokens_used == str(answer.usage.total_tokens)
    assert lost == "4"
    assert kinds == "[(500, True, 'gpt-4o-mini', 'v1')]"


def test_another_server_process_gives_back_a_killed_ones_reservations_within_a_sweep(doomed):
    open_streams_then_kill(doomed, STREAMS)

    with doomed.another_process(env={"CHATGATEWAY_LEASE_SWEEP_SECONDS": "0.2"}):
        deadline = time.monotonic() + 30
        while (now := counts(doomed))[3] != "0" and time.monotonic() < deadline:
            time.sleep(0.5)

    assert now[:5] == ["0", "0", "0", "0", "4"], "nothing left held, nothing charged, four requests recorded lost"
