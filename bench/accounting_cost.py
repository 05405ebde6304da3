"""What the quota and the usage record cost a relayed request, in database time.

Runs the relay's own database steps (reserve, settle, record) for a user, many times, against the
database in DATABASE_URL, and prints medians: each step alone, and the whole as a user waits for it.
The baseline is one primary-key read of the same user, measured in the same run.

    DATABASE_URL=sqlite:////tmp/bench.sqlite3 .venv/bin/python bench/accounting_cost.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/accounting_cost.py

It migrates the database it is given and adds a user named `bench-accounting` to it.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatgateway.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.models import User  # noqa: E402
from quota.models import Quota  # noqa: E402
from quota.services import reserve_request, settle_request  # noqa: E402
from relay import upstream  # noqa: E402
from relay.models import UsageRecord  # noqa: E402
from relay.services import RelayAttempt  # noqa: E402

ROUNDS = 500


def timed(samples: list[float], step, *args, **kwargs):
    """Run `step`, add its milliseconds to `samples`, return its result."""
    started = time.perf_counter()
    result = step(*args, **kwargs)
    samples.append((time.perf_counter() - started) * 1000)
    return result


def whole_request(user_id: int, usage: upstream.Usage) -> None:
    run = RelayAttempt(user_id=user_id, endpoint="v1", model="bench", messages=[])
    run.reserve(completion_tokens=100)
    run.succeed(usage=usage, answer="")


def main() -> None:
    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(username="bench-accounting")
    Quota.objects.filter(user=user).update(daily_limit=10**9, daily_token_limit=2 * 10**9)
    usage = upstream.Usage(20, 80, 100)
    samples: dict[str, list[float]] = {"baseline: read the user by key": [], "reserve (locked read + write)": [],
                                       "settle (one UPDATE)": [], "record (one INSERT)": [],
                                       "all three, as a request waits": []}  # fmt: skip
    baseline, reserve, settle, record, whole = samples.values()
    for _ in range(ROUNDS):
        timed(baseline, User.objects.get, pk=user.pk)
        reservation = timed(reserve, reserve_request, user_id=user.pk, completion_tokens=100)
        timed(settle, settle_request, reservation=reservation, tokens=100)
        attempt = RelayAttempt(user_id=user.pk, endpoint="v1", model="bench", messages=[])
        timed(record, attempt._record, 200, usage=usage)
        timed(whole, whole_request, user.pk, usage)
    UsageRecord.objects.filter(user=user).delete()

    baseline_ms = statistics.median(baseline)
    print(f"database: {connection.vendor}, {ROUNDS} rounds, medians")
    print(f"{'step':34} {'ms':>7} {'x baseline':>11}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:34} {median:7.3f} {median / baseline_ms:11.1f}")


if __name__ == "__main__":
    main()
