"""The gateway under load (issue 5): added latency, throughput and a thousand held streams, each measured
against the same requests sent straight to the upstream in the same run.

    .venv/bin/python bench/run.py                        # SQLite, the full run (about 2 minutes)
    .venv/bin/python bench/run.py --database postgres    # a fresh PostgreSQL database, made and dropped
    .venv/bin/python bench/run.py --quick                # a tiny run for CI (about 30 s)

It starts a fake upstream (bench/fake_upstream.py: asyncio, so that it is not the bottleneck), then the
production server as `make serve` does (migrate, collectstatic, `manage.py serve` with DEBUG=0 and
WEB_CONCURRENCY workers), makes a user with a huge daily limit, a JWT and an API key, and drives both
with the same small asyncio HTTP/1.1 client (below), cheap enough to share the machine's cores.
It exits 1 when any request failed (and, with --strict, when a target of issue 5 is missed).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
UPSTREAM_KEY = "bench-upstream-key"
SECRET = "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-0123456789"  # noqa: S105  (a throwaway key)
MODEL = "gpt-4o-mini"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FORBIDDEN_DATABASES = {"test", "test_test", "postgres", "template0", "template1"}


@dataclasses.dataclass(frozen=True)
class Plan:
    """How much load each measurement applies."""

    sequential: int = 1000
    warmup: int = 100
    concurrency: int = 64
    seconds: float = 20.0
    streams: int = 1000
    chunks: int = 20
    interval: float = 0.25


QUICK = Plan(sequential=50, warmup=10, concurrency=8, seconds=3.0, streams=50, chunks=5, interval=0.05)


# --- a minimal HTTP/1.1 client ---------------------------------------------------------------------
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)")


class Connection:
    """One keep-alive HTTP/1.1 connection; far cheaper per request than a full client library."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    async def send(self, request: bytes, *, started: float | None = None) -> tuple[int, bytes, float | None]:
        """Send `request` (opening the connection if needed); the status, the body and the seconds from
        `started` to its first body byte."""
        if self.writer is None:
            await self.open()
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, lowered = int(head[9:12]), head.lower()
        first: float | None = None
        length = _CONTENT_LENGTH.search(lowered)
        if length:
            body = await self.reader.readexactly(int(length.group(1)))
        elif b"transfer-encoding: chunked" in lowered:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append((await self.reader.readexactly(size + 2))[:-2])
                if first is None and started is not None:
                    first = time.perf_counter() - started
            body = b"".join(parts)
        else:  # the body ends when the connection does
            parts = []
            while part := await self.reader.read(65536):
                parts.append(part)
                if first is None and started is not None:
                    first = time.perf_counter() - started
            body = b"".join(parts)
            lowered += b"\r\nconnection: close"
        if b"\r\nconnection: close" in lowered:
            self.close()
        if first is None and started is not None:
            first = time.perf_counter() - started
        return status, body, first


@dataclasses.dataclass(frozen=True)
class Target:
    """Where requests go: the port and the bytes of the request, built once."""

    name: str
    port: int
    request: bytes
    stream_request: bytes


def make_target(name: str, port: int, credential: str, plan: Plan) -> Target:
    def build(payload: dict[str, Any]) -> bytes:
        body = json.dumps(payload).encode()
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {credential}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    message = {"role": "user", "content": "Say hello."}
    shaped = {"role": "user", "content": f"[dev:chunks={plan.chunks}] [dev:interval={plan.interval}] Count."}
    return Target(
        name=name,
        port=port,
        request=build({"model": MODEL, "messages": [message]}),
        stream_request=build(
            {"model": MODEL, "messages": [shaped], "stream": True, "stream_options": {"include_usage": True}}
        ),
    )


# --- the three measurements ------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def sequential(target: Target, count: int, warmup: int) -> dict[str, Any]:
    """`count` non-streamed requests one after another on one kept-alive connection (after `warmup`)."""
    connection, latencies, errors = Connection(target.port), [], Counter()
    for index in range(warmup + count):
        started = time.perf_counter()
        try:
            status, _, _ = await connection.send(target.request)
        except (OSError, asyncio.IncompleteReadError) as exc:
            status = type(exc).__name__
            connection.close()
        if index >= warmup:
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors[str(status)] += 1
    connection.close()
    return {
        "count": count,
        "errors": dict(errors),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "mean_ms": sum(latencies) / len(latencies),
    }


async def throughput(target: Target, concurrency: int, seconds: float) -> dict[str, Any]:
    """Non-streamed requests from `concurrency` connections, each sending its next as soon as it has its answer."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        connection = Connection(target.port)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status, _, _ = await connection.send(target.request)
            except (OSError, asyncio.IncompleteReadError) as exc:
                status = type(exc).__name__
                connection.close()
            if status == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors[str(status)] += 1
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "ok": len(latencies),
        "errors": dict(errors),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }


async def held_streams(target: Target, count: int, chunks: int, timeout: float) -> dict[str, Any]:
    """`count` streamed requests opened at once, each on its own connection; a stream succeeds when it
    is a 200 with every content chunk, a finish, usage and `[DONE]`, and no error event."""
    ttfb: list[float] = []
    totals: list[float] = []
    failures: Counter[str] = Counter()

    async def one() -> None:
        connection = Connection(target.port)
        started = time.perf_counter()
        try:
            status, body, first = await asyncio.wait_for(
                connection.send(target.stream_request, started=started), timeout
            )
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            failures[type(exc).__name__] += 1
            return
        finally:
            connection.close()
        events = body.count(b"data: ")
        if status != 200:
            failures[f"status {status}"] += 1
        elif b'"error"' in body:
            failures["error event"] += 1
        elif not body.rstrip().endswith(b"data: [DONE]") or events < chunks + 3:
            failures[f"incomplete ({events} events)"] += 1
        else:
            ttfb.append(first * 1000)
            totals.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(one() for _ in range(count)))
    return {
        "count": count,
        "ok": len(totals),
        "failures": dict(failures),
        "ttfb_p50_ms": percentile(ttfb, 0.5),
        "ttfb_p99_ms": percentile(ttfb, 0.99),
        "total_p50_ms": percentile(totals, 0.5),
        "total_p99_ms": percentile(totals, 0.99),
    }


# --- processes: the upstream, the database, the gateway --------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited during start-up (code {process.returncode})")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
            if response.status == 200:  # (our own local URL above)
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not answer {url} within {seconds:.0f} s")


@contextlib.contextmanager
def running(command: list[str], *, env: dict[str, str] | None = None, log: Path) -> Iterator[subprocess.Popen]:
    """A child process for the duration of the block; stopped (SIGTERM, then SIGKILL) when it ends."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def upstream(kind: str, workdir: Path) -> Iterator[str]:
    """A fake upstream on a free port; its base URL."""
    port = free_port()
    if kind == "fast":
        command = [PYTHON, "bench/fake_upstream.py", "--port", str(port), "--key", UPSTREAM_KEY]
    else:
        command = [PYTHON, "-m", "devtools.devupstream", "--port", str(port), "--key", UPSTREAM_KEY]
    with running(command, log=workdir / "upstream.log") as process:
        health = "/healthz" if kind == "fast" else "/_dev/stats"
        wait_for(f"http://127.0.0.1:{port}{health}", process, "the fake upstream")
        yield f"http://127.0.0.1:{port}/v1"


def admin_sql(server_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
        admin.execute(sql)


@contextlib.contextmanager
def database(kind: str, workdir: Path, server_url: str, name: str) -> Iterator[str]:
    """A fresh database for the gateway; its DATABASE_URL."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'gateway.sqlite3'}"
        return
    if name in FORBIDDEN_DATABASES or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"refusing to use the database {name!r}: give the benchmark one of its own (--pg-database)")
    admin_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_sql(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield f"{server_url}/{name}"
    finally:
        admin_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def gateway_env(*, database_url: str, upstream_url: str, port: int, workers: int, workdir: Path) -> dict[str, str]:
    """The environment of `make serve`, pointed at the fake upstream and the benchmark's database."""
    return {
        **os.environ,
        "DEBUG": "0",
        "DJANGO_SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "127.0.0.1",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "LOG_LEVEL": "WARNING",
        "ACCESS_LOG": "0",
        "OPENAI_API_KEY": UPSTREAM_KEY,
        "OPENAI_BASE_URL": upstream_url,
        "DATABASE_URL": database_url,
        "STATIC_ROOT": str(workdir / "static"),  # not the checkout's staticfiles/
    }


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603  (our own interpreter and manage.py)
        [PYTHON, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"manage.py {args[0]} failed:\n{result.stderr}")
    return result.stdout


MAKE_USER = """
import json
from accounts.models import User
from accounts.tokens import issue_access_token
from apikeys.services import create_api_key
from quota.models import Quota
user = User.objects.create_user(username=USERNAME, password=None)
Quota.objects.get_or_create(user=user)
Quota.objects.filter(user=user).update(daily_limit=2_000_000_000, daily_token_limit=None)
api_key, key = create_api_key(user=user, name="bench")
if LIMITS:
    # Every level of limit on, none of them binding: the key's, the user's and a team's, in money and requests.
    import datetime as dt
    from decimal import Decimal
    from django.utils import timezone
    from providers import catalog
    from providers.models import Price
    from quota.models import Limit
    from teams.models import Membership, Team
    from apikeys.models import APIKey
    team, _ = Team.objects.get_or_create(name="bench-team")
    Membership.objects.get_or_create(team=team, user=user)
    APIKey.objects.filter(pk=api_key.pk).update(team=team)
    Price.objects.get_or_create(model_name="gpt-4o-mini", valid_from=timezone.localdate() - dt.timedelta(days=1),
                                defaults={"input": Decimal("0.15"), "output": Decimal("0.60")})
    Limit.objects.create(api_key=api_key, metric="requests", period="minute", amount=10**9)
    Limit.objects.create(user=user, metric="cost", period="month", amount=10**6)
    Limit.objects.create(team=team, metric="cost", period="month", amount=10**7)
    Limit.objects.create(team=team, metric="requests", period="day", amount=10**9)
print("BENCH", json.dumps({"jwt": str(issue_access_token(user)), "api_key": key}))
"""


def make_user(env: dict[str, str], *, username: str = "bench", limits: bool = False) -> dict[str, str]:
    """A user with a huge daily limit, and a JWT and an API key of theirs; with `limits`, limits of the key, the
    user and a team of theirs (in money and requests, none binding) and a price, so that every level is counted."""
    script = f"USERNAME = {username!r}\nLIMITS = {limits!r}\n{MAKE_USER}"
    output = manage(env, "shell", "--verbosity", "0", "--command", script)
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    return json.loads(line[len("BENCH ") :])


# --- what the gateway costs: memory and database connections, sampled every 100 ms ----------------
class Sampler(threading.Thread):
    """Samples the summed VmRSS and thread count of a process tree, and the database's connections."""

    def __init__(self, root_pid: int, *, pg_server_url: str | None, pg_database: str | None) -> None:
        super().__init__(daemon=True, name="sampler")
        self.root_pid = root_pid
        # (time, rss kB, threads, db connections, CPU seconds used so far)
        self.samples: list[tuple[float, int, int, int | None, float]] = []
        self._stop_event = threading.Event()
        self._pg = None
        self._pg_database = pg_database
        if pg_server_url:
            import psycopg

            self._pg = psycopg.connect(f"{pg_server_url}/postgres", autocommit=True)

    def run(self) -> None:
        pids: list[int] = []
        tick = 0
        while not self._stop_event.wait(0.1):
            if tick % 10 == 0:  # the tree hardly changes: look for new workers once a second
                pids = process_tree(self.root_pid)
            tick += 1
            rss = threads = 0
            cpu = 0.0
            for pid in pids:
                status = read_status(pid)
                rss, threads = rss + status.get("VmRSS", 0), threads + status.get("Threads", 0)
                cpu += read_cpu_seconds(pid)
            connections = None
            if self._pg is not None:
                query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                connections = self._pg.execute(query, (self._pg_database,)).fetchone()[0]
            self.samples.append((time.perf_counter(), rss, threads, connections, cpu))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        if self._pg is not None:
            self._pg.close()

    def peaks(self, start: float, end: float) -> dict[str, Any]:
        window = [sample for sample in self.samples if start <= sample[0] <= end]
        if not window:
            return {"rss_mb": math.nan, "threads": 0, "db_connections": None, "cpu_seconds": math.nan}
        connections = [sample[3] for sample in window if sample[3] is not None]
        return {
            "rss_mb": max(s[1] for s in window) / 1024,
            "threads": max(s[2] for s in window),
            "db_connections": max(connections) if connections else None,
            "cpu_seconds": window[-1][4] - window[0][4],
        }


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def read_cpu_seconds(pid: int) -> float:
    """User and system CPU time used by the process (all its threads) so far."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return 0.0


def read_status(pid: int) -> dict[str, int]:
    values = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in {"VmRSS", "Threads"}:
                values[name] = int(value.split()[0])
    return values


# --- the run ---------------------------------------------------------------------------------------
async def measure(direct: Target, jwt: Target, key: Target, plan: Plan, sampler: Sampler) -> dict[str, Any]:
    results: dict[str, Any] = {"idle": sampler.peaks(time.perf_counter() - 1, time.perf_counter())}
    for name, target in (("direct", direct), ("jwt", jwt), ("api_key", key)):
        started = time.perf_counter()
        results[f"sequential_{name}"] = await sequential(target, plan.sequential, plan.warmup)
        results[f"sequential_{name}"]["server"] = sampler.peaks(started, time.perf_counter())
    for name, target in (("direct", direct), ("jwt", jwt)):
        started = time.perf_counter()
        results[f"throughput_{name}"] = await throughput(target, plan.concurrency, plan.seconds)
        results[f"throughput_{name}"]["server"] = sampler.peaks(started, time.perf_counter())
        await asyncio.sleep(1)
    timeout = max(120.0, 4 * plan.chunks * plan.interval)
    for name, target in (("direct", direct), ("jwt", jwt)):
        started = time.perf_counter()
        results[f"streams_{name}"] = await held_streams(target, plan.streams, plan.chunks, timeout)
        await asyncio.sleep(0.3)  # the last samples of the gateway's memory
        results[f"streams_{name}"]["server"] = sampler.peaks(started, time.perf_counter())
        await asyncio.sleep(1)
    return results


def raise_open_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # children (the gateway) inherit it
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark the gateway against its upstream (issue 5).")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="a tiny run, for CI: seconds, not minutes")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY (default 2)")
    parser.add_argument(
        "--upstream",
        choices=["fast", "dev"],
        default="fast",
        help="fast: bench/fake_upstream.py (default); dev: devtools/devupstream.py",
    )
    parser.add_argument(
        "--pg-server",
        default="postgresql://postgres@127.0.0.1:5432",
        help="PostgreSQL server to make the benchmark's database on (no database name)",
    )
    parser.add_argument("--pg-database", default="bench_gateway", help="made and dropped by the run")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target of issue 5 is missed")
    args = parser.parse_args()
    plan = QUICK if args.quick else Plan()
    open_files = raise_open_file_limit()
    if open_files < 2 * plan.streams + 100:
        raise SystemExit(f"the open-file limit is {open_files}: too low for {plan.streams} streams")

    workdir = Path(tempfile.mkdtemp(prefix="chatgateway-bench-"))
    pg = args.database == "postgres"
    try:
        with contextlib.ExitStack() as stack:
            upstream_url = stack.enter_context(upstream(args.upstream, workdir))
            database_url = stack.enter_context(database(args.database, workdir, args.pg_server, args.pg_database))
            port = free_port()
            env = gateway_env(
                database_url=database_url, upstream_url=upstream_url, port=port, workers=args.workers, workdir=workdir
            )
            manage(env, "migrate", "--noinput")
            manage(env, "collectstatic", "--noinput", "--verbosity", "0")
            credentials = make_user(env)
            server = stack.enter_context(running([PYTHON, "manage.py", "serve"], env=env, log=workdir / "gateway.log"))
            wait_for(f"http://127.0.0.1:{port}/healthz", server, "the gateway")
            sampler = Sampler(
                server.pid, pg_server_url=args.pg_server if pg else None, pg_database=args.pg_database if pg else None
            )
            sampler.start()
            stack.callback(sampler.stop)
            time.sleep(1.2)  # an idle sample or ten
            upstream_port = int(upstream_url.rsplit(":", 1)[1].split("/")[0])
            direct = make_target("direct", upstream_port, UPSTREAM_KEY, plan)
            jwt = make_target("gateway (JWT)", port, credentials["jwt"], plan)
            key = make_target("gateway (API key)", port, credentials["api_key"], plan)
            results = asyncio.run(measure(direct, jwt, key, plan, sampler))
            results["gateway_log"] = problems_in_log(workdir / "gateway.log")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["setup"] = {
        "database": args.database,
        "workers": args.workers,
        "upstream": args.upstream,
        "commit": code_version(),
        "load_average": os.getloadavg(),
        "plan": dataclasses.asdict(plan),
        "quick": args.quick,
    }
    verdicts = report(results, plan, pg=pg)
    if args.json:
        args.json.write_text(json.dumps({**results, "verdicts": verdicts}, indent=2, default=str))
    failed = any(results[name]["errors"] for name in results if name.startswith(("sequential_", "throughput_")))
    failed = failed or any(results[f"streams_{name}"]["failures"] for name in ("direct", "jwt"))
    if failed:
        print("\nFAILED: some requests failed (see above).")
    return 1 if failed or (args.strict and not all(verdicts.values())) else 0


def code_version() -> str:
    """The commit measured, and whether the checkout had changes (other than untracked files)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607  (git from PATH, as make does)
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=REPO, check=False).returncode  # noqa: S607
    except (OSError, subprocess.CalledProcessError):
        return "an unknown commit"
    return f"{commit}{' with local changes' if dirty else ''}"


def problems_in_log(path: Path) -> list[str]:
    """The gateway's warnings and errors (LOG_LEVEL=WARNING): the first few distinct lines."""
    seen: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        if " WARNING " in line or " ERROR " in line or "Traceback" in line:
            text = re.sub(r"^\S+ \S+ ", "", line)  # without the timestamp
            seen[text] = seen.get(text, 0) + 1
    return [f"{count} x {text}" for text, count in list(seen.items())[:10]]


# --- the table -------------------------------------------------------------------------------------
def report(results: dict[str, Any], plan: Plan, *, pg: bool) -> dict[str, bool]:
    setup = results["setup"]
    verdicts: dict[str, bool] = {}
    mark = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    print(
        f"\nChatGateway benchmark: {setup['database']}, {setup['workers']} worker(s), "
        f"{setup['upstream']} upstream{', QUICK' if setup['quick'] else ''}"
        f" at {setup['commit']}; load average after the run {' '.join(f'{x:.2f}' for x in setup['load_average'])}"
    )

    direct = results["sequential_direct"]
    print(f"\n1. Added latency: {plan.sequential} sequential non-streamed requests, one connection (ms)")
    print(f"   {'':20}{'p50':>8}{'p99':>8}{'mean':>8}{'+p50':>8}{'+p99':>8}  target{' (PostgreSQL)' if not pg else ''}")
    print(f"   {'direct':20}{direct['p50_ms']:8.2f}{direct['p99_ms']:8.2f}{direct['mean_ms']:8.2f}")
    for name, label in (("jwt", "gateway, JWT"), ("api_key", "gateway, API key")):
        row = results[f"sequential_{name}"]
        added50, added99 = row["p50_ms"] - direct["p50_ms"], row["p99_ms"] - direct["p99_ms"]
        ok = added50 <= 2 and added99 <= 8
        if pg:
            verdicts[f"added latency ({name})"] = ok
        errors = f"  errors {row['errors']}" if row["errors"] else ""
        print(
            f"   {label:20}{row['p50_ms']:8.2f}{row['p99_ms']:8.2f}{row['mean_ms']:8.2f}{added50:8.2f}{added99:8.2f}"
            f"  +p50 <= 2, +p99 <= 8: {mark(ok)}{errors}"
        )

    print(f"\n2. Throughput: non-streamed, concurrency {plan.concurrency}, {plan.seconds:g} s, zero-delay upstream")
    print(f"   {'':20}{'req/s':>8}{'ratio':>8}{'p50 ms':>8}{'p99 ms':>8}{'errors':>8}  target")
    cpu_note = []
    base = results["throughput_direct"]["rps"]
    for name, label in (("direct", "direct"), ("jwt", "gateway, JWT")):
        row = results[f"throughput_{name}"]
        errors = sum(row["errors"].values())
        target = ""
        if name == "jwt":
            verdicts["throughput"] = row["rps"] >= 300
            target = f"  >= 300 req/s: {mark(verdicts['throughput'])}"
            cpu_note.append(f"gateway CPU {1000 * row['server']['cpu_seconds'] / max(row['ok'], 1):.1f} ms a request")
        print(
            f"   {label:20}{row['rps']:8.0f}{row['rps'] / base:8.2f}{row['p50_ms']:8.1f}{row['p99_ms']:8.1f}"
            f"{errors:8}{target}"
        )
    sequential_cpu = results["sequential_jwt"]["server"]["cpu_seconds"] / (plan.sequential + plan.warmup)
    print(f"   ({', '.join(cpu_note)} at concurrency {plan.concurrency}; {1000 * sequential_cpu:.1f} ms sequentially)")

    print(
        f"\n3. Held streams: {plan.streams} opened at once, {plan.chunks} chunks {plan.interval * 1000:g} ms apart (ms)"
    )
    print(f"   {'':20}{'ok':>7}{'ttfb50':>8}{'ttfb99':>8}{'total50':>9}{'total99':>9}")
    d, g = results["streams_direct"], results["streams_jwt"]
    for label, row in (("direct", d), ("gateway, JWT", g)):
        print(
            f"   {label:20}{100 * row['ok'] / row['count']:6.1f}%{row['ttfb_p50_ms']:8.0f}{row['ttfb_p99_ms']:8.0f}"
            f"{row['total_p50_ms']:9.0f}{row['total_p99_ms']:9.0f}"
            f"{'  failures ' + json.dumps(row['failures']) if row['failures'] else ''}"
        )
    server = g["server"]
    checks = {
        "streams: 100% success": (g["ok"] == g["count"], f"{g['ok']}/{g['count']}"),
        "streams: total p99 within 10% of direct": (
            g["total_p99_ms"] <= 1.1 * d["total_p99_ms"],
            f"{g['total_p99_ms'] / d['total_p99_ms'] - 1:+.1%}",
        ),
        "streams: TTFB p99 within 1 s of direct": (
            g["ttfb_p99_ms"] - d["ttfb_p99_ms"] <= 1000,
            f"{g['ttfb_p99_ms'] - d['ttfb_p99_ms']:+.0f} ms",
        ),
        "streams: peak RSS < 600 MB": (
            server["rss_mb"] < 600,
            f"{server['rss_mb']:.0f} MB (idle {results['idle']['rss_mb']:.0f} MB)",
        ),
    }
    if pg:
        connections = server["db_connections"]
        checks["streams: <= 20 DB connections"] = (connections is not None and connections <= 20, f"{connections}")
    for label, (ok, value) in checks.items():
        verdicts[label] = ok
        print(f"   {label:44} {value:>30}  {mark(ok)}")
    threads = f"{server['threads']:>30}  (idle {results['idle']['threads']})"
    print(f"   {'peak threads in the gateway (all processes)':44} {threads}")
    if not pg:
        print(f"   {'peak DB connections':44} {'n/a (SQLite)':>30}")
    for phase in ("throughput_jwt", "sequential_jwt"):
        if results[phase]["server"]["db_connections"] is not None:
            label = "peak DB connections, " + phase.replace("_jwt", "")
            print(f"   {label:44} {results[phase]['server']['db_connections']:>30}")
    if results["gateway_log"]:
        print("\nThe gateway logged (first distinct lines):")
        for line in results["gateway_log"]:
            print(f"   {line[:200]}")
    return verdicts


if __name__ == "__main__":
    sys.exit(main())
