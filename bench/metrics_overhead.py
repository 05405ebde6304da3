"""What counting one request costs in CPU, apart from everything else (core/metrics.py).

    PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) .venv/bin/python bench/metrics_overhead.py

Runs the work the metrics add to a relayed request, in multi-process mode as `serve` runs it, against a
do-nothing ASGI application: `ObserveRequests` around it, what `NoteRoute` does, the relay's
`relay_attempt_ended` and three database steps' gauge; and, apart, the request id's middleware (always on).
Prints microseconds a request (median of 20 rounds of 2,000). bench/cpu_cost.py measures the whole request,
in which this is a small part lost in the noise of a shared machine; this isolates it.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatgateway.settings")
os.environ.setdefault("CHATGATEWAY_METRICS", "1")

import django

django.setup()

from core import metrics  # noqa: E402
from core.requestid import RequestIds  # noqa: E402

SCOPE = {"type": "http", "path": "/v1/chat/completions", "headers": [], "client": ("192.0.2.1", 50000)}
START = {"type": "http.response.start", "status": 200, "headers": [(b"Content-Type", b"application/json")]}
BODY = {"type": "http.response.body", "body": b"{}", "more_body": False}


class Match:
    route = "v1/chat/completions/?$"


class Request:
    resolver_match = Match()

    def __init__(self) -> None:
        self.auth = object()


async def app(scope, receive, send) -> None:
    metrics.NoteRoute(lambda request: None).process_response(Request(), None)
    for _ in range(3):
        with metrics.database_step():
            pass
    metrics.relay_attempt_ended(model="gpt-4o-mini", prompt_tokens=9, completion_tokens=12, error="")
    await send(START)
    await send(BODY)


async def bare(scope, receive, send) -> None:
    await send(START)
    await send(BODY)


async def rounds(application, n: int) -> float:
    async def send(message) -> None:
        return None

    started = time.process_time()
    for _ in range(n):
        await application(SCOPE, None, send)
    return (time.process_time() - started) / n * 1e6


async def main() -> None:
    observed = metrics.ObserveRequests(app)
    await rounds(observed, 2000)  # warm-up: the metrics' files, the label children
    counted = [await rounds(observed, 2000) for _ in range(20)]
    uncounted = [await rounds(bare, 2000) for _ in range(20)]
    with_ids = [await rounds(RequestIds(bare, trusted="127.0.0.1"), 2000) for _ in range(20)]
    mode = "multi-process" if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else "single-process"
    bare_cpu = statistics.median(uncounted)
    print(
        f"{mode}: {statistics.median(counted) - bare_cpu:.1f} µs of CPU a request for its metrics, "
        f"{statistics.median(with_ids) - bare_cpu:.1f} µs for its request id"
    )


asyncio.run(main())
