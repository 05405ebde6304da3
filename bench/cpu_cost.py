"""What one relayed request costs the gateway in CPU, without an HTTP server in the way.

    .venv/bin/python bench/cpu_cost.py [--database sqlite|postgres] [--requests 2000] [--api-key] [--limits]

Sets up as bench/run.py does (the fast fake upstream, a fresh database, the production settings), then
calls the gateway's ASGI application directly, in this process, with one non-streamed
`/v1/chat/completions` request at a time, and prints the CPU time of this process (every thread
included) per request: the median over batches of 100, next to the wall time. A CPU figure is far less
sensitive to other work on a shared machine than a latency, so it is the one to compare between
versions of the code. The HTTP server (uvicorn) is not included; bench/run.py measures everything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

BATCH = 100


async def call(application, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """One request through the ASGI application; its status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode()), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0
    done = asyncio.Event()

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await application(scope, receive, send)
    return status


async def measure(application, credential: str, requests: int) -> list[tuple[float, float]]:
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).encode()
    headers = [(b"authorization", f"Bearer {credential}".encode()), (b"content-type", b"application/json")]
    for _ in range(BATCH):  # warm-up: connections, caches, the SDK's client
        if (status := await call(application, "/v1/chat/completions", headers, body)) != 200:
            raise SystemExit(f"the gateway answered {status}")
    batches = []
    for _ in range(max(1, requests // BATCH)):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(BATCH):
            status = await call(application, "/v1/chat/completions", headers, body)
            if status != 200:
                raise SystemExit(f"the gateway answered {status}")
        batches.append(((time.process_time() - cpu) * 1000 / BATCH, (time.perf_counter() - wall) * 1000 / BATCH))
    return batches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--pg-database", default="bench_cpu_cost")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--api-key", action="store_true", help="authenticate with an API key, not a JWT")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument(
        "--limits", action="store_true", help="limits of the key, the user and a team in force (none binding)"
    )
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="chatgateway-cpu-") as tmp,
        bench.upstream("fast", Path(tmp)) as upstream_url,
        bench.database(args.database, Path(tmp), args.pg_server, args.pg_database) as database_url,
    ):
        env = bench.gateway_env(
            database_url=database_url, upstream_url=upstream_url, port=8000, workers=1, workdir=Path(tmp)
        )
        bench.manage(env, "migrate", "--noinput")
        credentials = bench.make_user(env, limits=args.limits)
        os.environ.update(env)
        sys.path.insert(0, str(bench.REPO))
        os.environ["DJANGO_SETTINGS_MODULE"] = "chatgateway.settings"
        from chatgateway.asgi import application

        credential = credentials["api_key" if args.api_key else "jwt"]
        if args.loop == "uvloop":
            import uvloop

            batches = uvloop.run(measure(application, credential, args.requests))
        else:
            batches = asyncio.run(measure(application, credential, args.requests))

    cpu = statistics.median(b[0] for b in batches)
    wall = statistics.median(b[1] for b in batches)
    who = ("API key" if args.api_key else "JWT") + (", key + user + team limits" if args.limits else "")
    print(
        f"{args.database}, {who}, {args.loop}: {len(batches) * BATCH} requests in batches of {BATCH}; "
        f"median CPU {cpu:.2f} ms a request, median wall {wall:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
