"""Hundreds of mixed requests at once through several server processes on PostgreSQL, drawing on limits
of keys, users, plans and two teams that users share (some in both, choosing by header): no deadlock, no
error, and afterwards every counter agrees with the usage records of its period, nothing is left
reserved, and every refusal named its limit."""

from __future__ import annotations

import json
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection

from devtools.testing import GatewayServer

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serialises every writer: only PostgreSQL's row locks can deadlock or race here",
)

REQUESTS = 300

# u1, u2 in alpha; u3, u4 in beta (on the plan "student"); u5, u6 in both. Each has an API key: u2's and
# u5's with limits of their own, u6's given the team beta. Daily fields are high: every refusal comes from
# a limit row, and names it.
SETUP = """
import json
from accounts.models import User
from accounts.tokens import issue_access_token
from apikeys.services import create_api_key
from quota.models import Limit, Plan, Quota
from teams.models import Membership, Team
alpha, beta = Team.objects.create(name="alpha"), Team.objects.create(name="beta")
student = Plan.objects.create(name="student", daily_request_limit=1000)
Limit.objects.create(plan=student, metric="requests", period="month", amount=30)
Limit.objects.create(team=alpha, metric="requests", period="day", amount=70)
Limit.objects.create(team=alpha, metric="tokens", period="week", amount=9000)
Limit.objects.create(team=beta, metric="requests", period="month", amount=90)
Limit.objects.create(team=beta, metric="tokens", period="total", amount=12000)
teams = {"u1": [alpha], "u2": [alpha], "u3": [beta], "u4": [beta], "u5": [alpha, beta], "u6": [beta, alpha]}
out = {}
for name, joined in teams.items():
    user = User.objects.create_user(name, password="x")
    Quota.objects.filter(user=user).update(
        daily_limit=1000, plan=student if name in ("u3", "u4") else None
    )
    for team in joined:
        Membership.objects.create(team=team, user=user)
    key, raw = create_api_key(user=user, name="script")
    out[name] = {"jwt": str(issue_access_token(user)), "key": raw, "teams": [t.name for t in joined]}
    if name == "u1":
        Limit.objects.create(user=user, metric="requests", period="week", amount=25)
    if name == "u2":
        Limit.objects.create(api_key=key, metric="requests", period="day", amount=20)
    if name == "u5":
        Limit.objects.create(api_key=key, metric="tokens", period="total", amount=2500)
    if name == "u6":
        key.team = beta
        key.save()
        out[name]["teams"] = ["beta"]
print(json.dumps(out))
"""

# Each counter beside the sums of the successful usage records it counts, in its period.
STORED = """
import json
from django.db.models import Count, Q, Sum
from quota.models import Counter, Lease, Quota
from relay.models import UsageRecord
out = []
for c in Counter.objects.select_related("user", "api_key", "team"):
    records = UsageRecord.objects.filter(status_code=200, created__gte=c.start)
    if c.team_id:
        records, who = records.filter(team=c.team.name), f"team {c.team.name}"
    elif c.api_key_id:
        records, who = records.filter(api_key_id=c.api_key_id), f"key of {c.api_key.user.username}"
    else:
        records, who = records.filter(user_id=c.user_id), f"user {c.user.username}"
    sums = records.aggregate(n=Count("id"), tokens=Sum("total_tokens", default=0))
    out.append([f"{who} {c.period}", c.requests, c.tokens, c.tokens_reserved, c.cost_reserved, sums["n"],
                sums["tokens"]])
print(json.dumps({
    "counters": out,
    "quota_reserved": sum(Quota.objects.values_list("tokens_reserved", flat=True)),
    "leases": Lease.objects.count(),
}))
"""


def _one_request(url: str, users: dict, number: int) -> tuple[int, str | None, bool]:
    """One request of a random kind, user, credential and team; its status, the limit a 429 named, and
    whether the client saw a complete answer."""
    rng = random.Random(number)  # noqa: S311  (a repeatable mix, not a secret)
    name = rng.choice(sorted(users))
    user = users[name]
    credential = user["key"] if rng.random() < 0.5 else user["jwt"]
    headers = {"Authorization": f"Bearer {credential}"}
    if len(user["teams"]) > 1 and credential == user["jwt"] and rng.random() < 0.7:
        headers["X-ChatGateway-Team"] = rng.choice(user["teams"])
    fault = " [dev:status=500]" if rng.random() < 0.1 else ""
    text = f"question number {number}{fault}"
    kind = rng.choice(["chat", "v1", "v1-stream", "v1-stream"])
    if kind == "chat":
        response = requests.post(f"{url}/api/chat/", json={"prompt": text}, headers=headers, timeout=90)
        ok = response.status_code == 200 and bool(response.json()["reply"])
        return response.status_code, response.headers.get("x-chatgateway-limit"), ok
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "max_tokens": 150}
    if kind == "v1":
        response = requests.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=90)
        ok = response.status_code == 200 and bool(response.json()["choices"])
        return response.status_code, response.headers.get("x-chatgateway-limit"), ok
    body["stream"] = True
    url = f"{url}/v1/chat/completions"
    with requests.post(url, json=body, headers=headers, stream=True, timeout=90) as response:
        lines = [line for line in response.iter_lines() if line]
    ok = response.status_code == 200 and lines[-1] == b"data: [DONE]"
    return response.status_code, response.headers.get("x-chatgateway-limit"), ok


def test_hundreds_of_mixed_requests_on_shared_limits_deadlock_nowhere_and_keep_every_counter_exact(
    tmp_path, dev_upstream
):
    log = tmp_path / "server.log"
    with GatewayServer(
        tmp_path=tmp_path, upstream_url=dev_upstream.url, upstream_key=dev_upstream.key, workers=3, log=log
    ) as server:
        users = json.loads(server.python(SETUP))
        with ThreadPoolExecutor(max_workers=30) as pool:
            results = list(pool.map(lambda n: _one_request(server.url, users, n), range(REQUESTS)))
        stored = json.loads(server.python(STORED))

    statuses = Counter(status for status, _, _ in results)
    server_log = log.read_text()
    assert "deadlock" not in server_log.lower()
    assert statuses.keys() <= {200, 429, 403, 502}, statuses
    assert statuses[200] > 0
    assert statuses[429] + statuses[403] > 0, "the run reached some limits"
    assert all(ok for status, _, ok in results if status == 200), "a 200 with a broken answer"
    assert all(limit for status, limit, _ in results if status in (429, 403)), "a refusal that named no limit"
    for who, requests_, tokens, tokens_reserved, cost_reserved, records, record_tokens in stored["counters"]:
        assert (requests_, tokens) == (records, record_tokens), who
        assert (tokens_reserved, cost_reserved) == (0, 0), who
    assert stored["quota_reserved"] == 0
    assert stored["leases"] == 0
