"""Several hundred mixed requests at once through several server processes (successes, limit hits,
upstream failures, streams and not, every endpoint): afterwards each user's counts agree with the
usage records and with what the clients saw."""

from __future__ import annotations

import json
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from devtools.testing import GatewayServer

USERS = {"u1": (40, None), "u2": (25, 3000), "u3": (200, 1500)}  # name: (request limit, token limit)
REQUESTS = 300


def _one_request(url: str, token: str, number: int) -> tuple[int, bool]:
    """One request of a random kind; its status and whether the client saw a complete answer."""
    rng = random.Random(number)  # noqa: S311  (a repeatable mix, not a secret)
    fault = " [dev:status=500]" if rng.random() < 0.15 else ""
    text = f"question {number}{fault}"
    headers = {"Authorization": f"Bearer {token}"}
    kind = rng.choice(["api", "chat", "v1", "v1-stream"])
    if kind == "api":
        response = requests.get(f"{url}/api", params={"q": text}, headers=headers, timeout=60)
        return response.status_code, response.status_code == 200 and response.json()["statu"]
    if kind == "chat":
        response = requests.post(f"{url}/api/chat/", json={"prompt": text}, headers=headers, timeout=60)
        return response.status_code, response.status_code == 200 and bool(response.json()["reply"])
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "max_tokens": 200}
    if kind == "v1":
        response = requests.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=60)
        return response.status_code, response.status_code == 200 and bool(response.json()["choices"])
    body["stream"] = True
    with requests.post(f"{url}/v1/chat/completions", json=body, headers=headers, stream=True, timeout=60) as response:
        lines = [line for line in response.iter_lines() if line]
    return response.status_code, response.status_code == 200 and lines[-1] == b"data: [DONE]"


def test_several_hundred_mixed_requests_leave_every_count_consistent(tmp_path, dev_upstream):
    with GatewayServer(tmp_path=tmp_path, upstream_url=dev_upstream.url, upstream_key=dev_upstream.key) as server:
        tokens = json.loads(
            server.python(
                "import json; from accounts.models import User; from accounts.tokens import issue_access_token; "
                "from quota.models import Quota; out = {}\n"
                f"for name, (requests, tokens) in {USERS!r}.items():\n"
                "    user = User.objects.create_user(name, password='x')\n"
                "    Quota.objects.filter(user=user).update(daily_limit=requests, daily_token_limit=tokens)\n"
                "    out[name] = str(issue_access_token(user))\n"
                "print(json.dumps(out))"
            )
        )
        names = list(USERS)
        with ThreadPoolExecutor(max_workers=30) as pool:
            results = list(
                pool.map(lambda n: (names[n % 3], *_one_request(server.url, tokens[names[n % 3]], n)), range(REQUESTS))
            )
        stored = json.loads(
            server.python(
                "import json; from django.db.models import Sum, Count, Q; from quota.models import Quota; "
                "from relay.models import UsageRecord; out = {}\n"
                "for q in Quota.objects.select_related('user'):\n"
                "    records = UsageRecord.objects.filter(user=q.user).aggregate(\n"
                "        ok=Count('id', filter=Q(status_code=200)), failed=Count('id', filter=~Q(status_code=200)),\n"
                "        tokens=Sum('total_tokens', filter=Q(status_code=200), default=0))\n"
                "    out[q.user.username] = [q.used, q.tokens_used, q.tokens_reserved, records]\n"
                "print(json.dumps(out))"
            )
        )

    seen = Counter((name, status) for name, status, _ in results)
    assert all(complete for _, status, complete in results if status == 200), "a 200 with a broken answer"
    assert {status for _, status, _ in results} <= {200, 429, 502}
    for name, (request_limit, token_limit) in USERS.items():
        used, tokens_used, reserved, records = stored[name]
        assert used == seen[name, 200] == records["ok"], name
        assert records["failed"] == seen[name, 502], "one record per upstream failure"
        assert tokens_used == records["tokens"]
        assert reserved == 0, "every budget was settled or refunded"
        assert used <= request_limit
        if token_limit is not None:
            # Past the limit by at most the prompts of the requests in flight (small here).
            assert tokens_used <= token_limit + 30 * 20
    assert sum(seen[name, 429] for name in USERS) > 0, "the run reached some limits"
