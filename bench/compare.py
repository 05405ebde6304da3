"""Side by side with LiteLLM (issue 17): the fake upstream called directly, ChatGateway under uvicorn and under
granian, and the LiteLLM proxy, each started, measured and stopped in turn, in interleaved rounds.

    .venv/bin/python bench/compare.py                   # the full run: 6 targets x 2 rounds, 25-40 minutes
    .venv/bin/python bench/compare.py --quick           # direct and the gateway only, a tiny load (about 1 min)
    .venv/bin/python bench/compare.py --targets direct,gateway,gateway:4,litellm --rounds 3 --json out.json

Targets (`--targets`, comma-separated; `NAME:W` runs it with W worker processes, 2 when not given):

- `direct`: the fake upstream (bench/fake_upstream.py) itself, every other target's upstream;
- `gateway`: ChatGateway as `make serve` runs it (`manage.py serve`: uvicorn, uvloop, httptools) on a PostgreSQL
  database made for the run, its bench user with limits of the key, the user and a team and a price (every counter
  on), measured with a JWT and with an API key;
- `gateway-granian`: the same application, database and user, served by granian instead (`--interface asginl`,
  uvloop), installed with `pip install --target` outside the checkout and put on PYTHONPATH, so that it runs with
  the project's own interpreter and packages;
- `litellm`: the LiteLLM proxy from a throwaway virtualenv outside the checkout, no database, a master key only,
  one model routed to the fake upstream as an OpenAI-compatible provider.

Neither LiteLLM nor granian is a dependency of the project: when missing, they are installed (from PyPI, pinned)
under `--venvs` (default: `bench-venvs` beside the checkout); the commands are printed. Nothing reaches the
internet: LiteLLM is told to use its own copy of the model cost map.

Each target gets, with bench/run.py's client and measurements: sequential non-streamed requests on one kept-alive
connection (after a warm-up), sequential streamed ones (20 chunks, no pause), throughput at concurrency 64 for fixed
seconds with the CPU its process tree used over that window (and on PostgreSQL the database sessions' CPU), and
`--streams` streams opened at once (20 chunks 250 ms apart), sampling memory and database connections. It prints
the medians over the rounds. Exit status 1 when any request to the gateway failed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

LITELLM_VERSION = "1.108.7"
GRANIAN_VERSION = "2.8.9"
HTTPTOOLS_VERSION = "0.9.0"  # the gateway's HTTP parser, given to LiteLLM's uvicorn too (it does not ask for it)
MASTER_KEY = "sk-bench-master-key"  # a throwaway key
KINDS = ("direct", "gateway", "gateway-granian", "litellm")
DEFAULT_TARGETS = "direct,gateway,gateway:4,gateway-granian,gateway-granian:4,litellm"
QUICK_TARGETS = "direct,gateway"
GATEWAY_KINDS = {"gateway", "gateway-granian"}


@dataclasses.dataclass(frozen=True)
class Spec:
    """One target of the run: which server, with how many worker processes."""

    kind: str
    workers: int

    @property
    def key(self) -> str:
        return self.kind if self.workers == 2 else f"{self.kind}:{self.workers}"

    @property
    def label(self) -> str:
        if self.kind == "direct":
            return "direct"
        server = {"gateway": "ChatGateway, uvicorn", "gateway-granian": "ChatGateway, granian"}.get(self.kind)
        return f"{server or 'LiteLLM proxy'} x{self.workers}"


def parse_targets(text: str) -> list[Spec]:
    specs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, _, workers = item.partition(":")
        if kind not in KINDS or (workers and not workers.isdigit()):
            raise SystemExit(f"unknown target {item!r}: one of {', '.join(KINDS)}, optionally :WORKERS")
        specs.append(Spec(kind, int(workers or 2)))
    if len({spec.key for spec in specs}) != len(specs):
        raise SystemExit("a target is named twice")
    return specs


# --- the throwaway installs, outside the checkout --------------------------------------------------
def install_commands(venvs: Path) -> dict[str, list[list[str]]]:
    litellm = venvs / "litellm"
    pip_install = [str(litellm / "bin/pip"), "install"]
    pip_target = [bench.PYTHON, "-m", "pip", "install", "--target", str(venvs / "granian-lib"), "--no-deps"]
    return {
        "litellm": [
            ["python3", "-m", "venv", str(litellm)],
            [*pip_install, f"litellm[proxy]=={LITELLM_VERSION}", f"httptools=={HTTPTOOLS_VERSION}"],
        ],
        "granian": [[*pip_target, f"granian=={GRANIAN_VERSION}"]],  # its one dependency, click, is the project's
    }


def ensure_installed(what: str, venvs: Path) -> None:
    ready = (venvs / "litellm/bin/litellm") if what == "litellm" else (venvs / "granian-lib/granian")
    if ready.exists():
        return
    for command in install_commands(venvs)[what]:
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # noqa: S603  (pinned, from PyPI)


def versions(venvs: Path, specs: list[Spec], pg_server: str | None) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("django", "uvicorn", "uvloop", "httptools", "openai", "psycopg"):
        found[name] = metadata.version(name)
    if any(spec.kind == "gateway-granian" for spec in specs):
        dists = list((venvs / "granian-lib").glob("granian-*.dist-info"))
        found["granian"] = dists[0].name.removesuffix(".dist-info").split("-")[1] if dists else "?"
    if any(spec.kind == "litellm" for spec in specs):
        script = (
            "import importlib.metadata as m, json, platform; print(json.dumps({'python': platform.python_version(), "
            "**{n: m.version(n) for n in ('litellm', 'openai', 'uvicorn', 'uvloop', 'httptools', 'fastapi')}}))"
        )
        result = subprocess.run(  # noqa: S603
            [str(venvs / "litellm/bin/python"), "-c", script], capture_output=True, text=True, check=True
        )
        theirs = json.loads(result.stdout)
        found["litellm"] = theirs.pop("litellm")
        found["litellm's venv"] = ", ".join(f"{name} {version}" for name, version in theirs.items())
    if pg_server:
        import psycopg

        with psycopg.connect(f"{pg_server}/postgres") as connection:
            found["postgresql"] = connection.execute("SHOW server_version").fetchone()[0].split()[0]
    return found


# --- the servers -----------------------------------------------------------------------------------
@dataclasses.dataclass
class Shared:
    """What every target's start needs: the workdir, the upstream, the gateway's database and user."""

    workdir: Path
    venvs: Path
    upstream_url: str
    upstream_port: int
    upstream_pid: int
    database_url: str | None = None
    credentials: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Server:
    port: int
    root_pid: int
    credentials: dict[str, str]  # label -> bearer credential, the first one used for the held streams
    log: Path | None


@contextlib.contextmanager
def fake_upstream(workdir: Path) -> Iterator[tuple[str, int, int]]:
    """bench/run.py's fast fake upstream on a free port; its base URL, port and pid."""
    port = bench.free_port()
    command = [bench.PYTHON, "bench/fake_upstream.py", "--port", str(port), "--key", bench.UPSTREAM_KEY]
    with bench.running(command, log=workdir / "upstream.log") as process:
        bench.wait_for(f"http://127.0.0.1:{port}/healthz", process, "the fake upstream")
        yield f"http://127.0.0.1:{port}/v1", port, process.pid


@contextlib.contextmanager
def serve(spec: Spec, shared: Shared, round_number: int) -> Iterator[Server]:
    if spec.kind == "direct":
        yield Server(shared.upstream_port, shared.upstream_pid, {"upstream key": bench.UPSTREAM_KEY}, None)
        return
    port = bench.free_port()
    log = shared.workdir / f"{spec.key.replace(':', '-')}-{round_number}.log"
    if spec.kind == "litellm":
        command, env, health = litellm_command(spec, shared, port)
        credentials = {"master key": MASTER_KEY}
    else:
        env = bench.gateway_env(
            database_url=shared.database_url,
            upstream_url=shared.upstream_url,
            port=port,
            workers=spec.workers,
            workdir=shared.workdir,
        )
        health = "/healthz"
        credentials = {"JWT": shared.credentials["jwt"], "API key": shared.credentials["api_key"]}
        if spec.kind == "gateway":
            command = [bench.PYTHON, "manage.py", "serve"]
        else:
            command = granian_command(spec, shared, port, env)
    with bench.running(command, env=env, log=log) as process:
        bench.wait_for(f"http://127.0.0.1:{port}{health}", process, spec.label, seconds=180)
        yield Server(port, process.pid, credentials, log)


def granian_command(spec: Spec, shared: Shared, port: int, env: dict[str, str]) -> list[str]:
    """granian serving the gateway's ASGI application like `manage.py serve` serves it with uvicorn: uvloop, no
    lifespan, no access log, the listen backlog uvicorn uses (2,048), and no cap on the requests in progress
    below the run's own (uvicorn has none). The metrics' directory `serve` makes fresh is made here."""
    metrics = shared.workdir / f"metrics-granian-{port}"
    metrics.mkdir()
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shared.venvs / "granian-lib"), env.get("PYTHONPATH")]))
    return [
        bench.PYTHON, "-m", "granian", "--interface", "asginl", "--workers", str(spec.workers), "--loop", "uvloop",
        "--http", "1", "--no-ws", "--host", "127.0.0.1", "--port", str(port), "--backlog", "2048",
        "--backpressure", "2048", "--log-level", "warning", "--no-access-log", "chatgateway.asgi:application",
    ]  # fmt: skip


LITELLM_CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: {upstream}
      api_key: {key}
general_settings:
  master_key: {master}
litellm_settings:
  telemetry: false
"""


def litellm_command(spec: Spec, shared: Shared, port: int) -> tuple[list[str], dict[str, str], str]:
    """The LiteLLM proxy: uvicorn with `--num_workers` processes (uvloop, httptools), no database, quiet, and
    told not to fetch anything from the internet (its model cost map, blog posts, policy templates)."""
    config = shared.workdir / "litellm.yaml"
    settings = {"model": bench.MODEL, "upstream": shared.upstream_url, "key": bench.UPSTREAM_KEY, "master": MASTER_KEY}
    config.write_text(LITELLM_CONFIG.format(**settings))
    env = {name: value for name, value in os.environ.items() if name not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_LOCAL_BLOG_POSTS="True",
        LITELLM_LOCAL_POLICY_TEMPLATES="True",
        LITELLM_LOG="ERROR",
        NO_PROXY="127.0.0.1,localhost",
    )
    command = [
        str(shared.venvs / "litellm/bin/litellm"), "--config", str(config), "--host", "127.0.0.1",
        "--port", str(port), "--num_workers", str(spec.workers),
    ]  # fmt: skip
    return command, env, "/health/liveliness"


# --- the measurements ------------------------------------------------------------------------------
def stream_failure(status: int, body: bytes, chunks: int) -> str | None:
    """Why a streamed answer is not a success (as bench/run.py's held_streams judges it), or None."""
    events = body.count(b"data: ")
    if status != 200:
        return f"status {status}"
    if b'"error"' in body:
        return "error event"
    if not body.rstrip().endswith(b"data: [DONE]") or events < chunks + 3:
        return f"incomplete ({events} events)"
    return None


async def sequential_streams(target: bench.Target, count: int, warmup: int, chunks: int) -> dict[str, Any]:
    """`count` streamed requests one after another on one kept-alive connection (after `warmup`): total time."""
    connection, totals, failures = bench.Connection(target.port), [], Counter()
    for index in range(warmup + count):
        started = time.perf_counter()
        try:
            status, body, _ = await connection.send(target.stream_request, started=started)
            failure = stream_failure(status, body, chunks)
        except (OSError, asyncio.IncompleteReadError) as exc:
            failure = type(exc).__name__
            connection.close()
        if index >= warmup:
            if failure:
                failures[failure] += 1
            else:
                totals.append((time.perf_counter() - started) * 1000)
    connection.close()
    return {"count": count, "failures": dict(failures), "p50_ms": bench.percentile(totals, 0.5)}


def tree_cpu(root: int) -> float:
    return sum(bench.read_cpu_seconds(pid) for pid in bench.process_tree(root))


class DatabaseCpu:
    """The CPU time of the PostgreSQL sessions on the run's database (their backends' /proc counters)."""

    def __init__(self, pg_server: str, database: str) -> None:
        import psycopg

        self.database = database
        self.connection = psycopg.connect(f"{pg_server}/postgres", autocommit=True)

    def snapshot(self) -> dict[int, float]:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = %s"
        pids = [row[0] for row in self.connection.execute(query, (self.database,)).fetchall()]
        return {pid: bench.read_cpu_seconds(pid) for pid in pids}

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

    def close(self) -> None:
        self.connection.close()


async def measure(
    spec: Spec, server: Server, plan: bench.Plan, streamed_count: int, sampler: bench.Sampler, db: DatabaseCpu | None
) -> dict[str, Any]:
    now = time.perf_counter()
    result: dict[str, Any] = {"idle": sampler.peaks(now - 1, now), "credentials": {}}
    fast_streams = dataclasses.replace(plan, chunks=20, interval=0.0)
    for label, credential in server.credentials.items():
        target = bench.make_target(f"{spec.key} ({label})", server.port, credential, plan)
        streaming = bench.make_target(target.name, server.port, credential, fast_streams)
        row: dict[str, Any] = {"sequential": await bench.sequential(target, plan.sequential, plan.warmup)}
        row["streamed"] = await sequential_streams(streaming, streamed_count, max(5, streamed_count // 10), 20)
        await asyncio.sleep(0.5)
        cpu_before, db_before = tree_cpu(server.root_pid), db.snapshot() if db else None
        row["throughput"] = await bench.throughput(target, plan.concurrency, plan.seconds)
        cpu_after, db_after = tree_cpu(server.root_pid), db.snapshot() if db else None
        served = max(row["throughput"]["ok"], 1)
        row["throughput"]["cpu_ms_per_request"] = 1000 * (cpu_after - cpu_before) / served
        if db:
            row["throughput"]["db_cpu_ms_per_request"] = 1000 * DatabaseCpu.used(db_before, db_after) / served
            row["throughput"]["db_connections"] = sampler.peaks(now, time.perf_counter())["db_connections"]
        result["credentials"][label] = row
        await asyncio.sleep(1)
    label, credential = next(iter(server.credentials.items()))
    target = bench.make_target(f"{spec.key} ({label})", server.port, credential, plan)
    started = time.perf_counter()
    timeout = max(120.0, 4 * plan.chunks * plan.interval)
    result["held"] = await bench.held_streams(target, plan.streams, plan.chunks, timeout)
    result["held"]["credential"] = label
    await asyncio.sleep(0.3)  # the last samples of the server's memory
    result["held"]["server"] = sampler.peaks(started, time.perf_counter())
    return result


def run_target(spec: Spec, shared: Shared, round_number: int, plan: bench.Plan, args: argparse.Namespace) -> dict:
    print(f"  {spec.label} ...", end=" ", flush=True)
    started = time.monotonic()
    try:
        result = serve_and_measure(spec, shared, round_number, plan, args)
    except SystemExit as exc:  # it did not start, or died: reported, left out of the table, the run goes on
        log = shared.workdir / f"{spec.key.replace(':', '-')}-{round_number}.log"
        tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
        result = {"start_error": str(exc), "log": tail}
        print(f"did not start: {exc}")
        for line in tail:
            print(f"    {line[:200]}")
        result["failed"] = {"did not start": 1}
        return result
    result["failed"] = failures_of(result)
    failed = f"  FAILURES: {json.dumps(result['failed'])}" if result["failed"] else ""
    print(f"{time.monotonic() - started:.0f} s{failed}")
    time.sleep(2)  # the stopped server's sockets and processes gone before the next one starts
    return result


def serve_and_measure(spec: Spec, shared: Shared, round_number: int, plan: bench.Plan, args) -> dict[str, Any]:
    pg = spec.kind in GATEWAY_KINDS
    with serve(spec, shared, round_number) as server:
        sampler = bench.Sampler(
            server.root_pid,
            pg_server_url=args.pg_server if pg else None,
            pg_database=args.pg_database if pg else None,
        )
        db = DatabaseCpu(args.pg_server, args.pg_database) if pg else None
        sampler.start()
        try:
            time.sleep(1.2)  # an idle sample or ten
            result = asyncio.run(measure(spec, server, plan, args.streamed, sampler, db))
        finally:
            sampler.stop()
            if db:
                db.close()
        if server.log is not None:
            result["log"] = bench.problems_in_log(server.log)
            if spec.kind == "litellm":  # its own format: keep what looks like a problem
                text = server.log.read_text(errors="replace").splitlines()
                result["log"] = [line[:200] for line in text if "ERROR" in line or "Traceback" in line][:10]
    return result


def failures_of(result: dict[str, Any]) -> dict[str, int]:
    failed: Counter[str] = Counter()
    for label, row in result["credentials"].items():
        for phase in ("sequential", "throughput"):
            for reason, count in row[phase]["errors"].items():
                failed[f"{phase} ({label}): {reason}"] += count
        for reason, count in row["streamed"]["failures"].items():
            failed[f"streamed ({label}): {reason}"] += count
    for reason, count in result["held"]["failures"].items():
        failed[f"held streams: {reason}"] += count
    return dict(failed)


# --- the run ---------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description="ChatGateway side by side with LiteLLM (issue 17).")
    parser.add_argument("--targets", help=f"comma-separated (default {DEFAULT_TARGETS}; --quick: {QUICK_TARGETS})")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 2; --quick: 1)")
    parser.add_argument("--quick", action="store_true", help="a tiny load: seconds a target, not minutes")
    parser.add_argument("--streams", type=int, help="streams opened at once (default 1000; --quick: 50)")
    parser.add_argument("--seconds", type=float, help="of throughput at concurrency 64 (default 20; --quick: 3)")
    parser.add_argument("--streamed", type=int, help="sequential streamed requests (default 200; --quick: 20)")
    parser.add_argument("--venvs", type=Path, default=bench.REPO.parent / "bench-venvs", help="LiteLLM's and granian's")
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--pg-database", default="bench_cmp", help="made and dropped by the run")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    args = parser.parse_args()
    specs = parse_targets(args.targets or (QUICK_TARGETS if args.quick else DEFAULT_TARGETS))
    rounds = args.rounds or (1 if args.quick else 2)
    plan = bench.QUICK if args.quick else bench.Plan()
    if args.streams is not None:
        plan = dataclasses.replace(plan, streams=args.streams)
    if args.seconds is not None:
        plan = dataclasses.replace(plan, seconds=args.seconds)
    args.streamed = args.streamed or (20 if args.quick else 200)
    open_files = bench.raise_open_file_limit()
    if open_files < 2 * plan.streams + 100:
        raise SystemExit(f"the open-file limit is {open_files}: too low for {plan.streams} streams")
    if any(spec.kind == "litellm" for spec in specs):
        ensure_installed("litellm", args.venvs)
    if any(spec.kind == "gateway-granian" for spec in specs):
        ensure_installed("granian", args.venvs)
    uses_pg = any(spec.kind in GATEWAY_KINDS for spec in specs)
    setup = {
        "commit": bench.code_version(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": versions(args.venvs, specs, args.pg_server if uses_pg else None),
        "targets": [spec.key for spec in specs],
        "rounds": rounds,
        "plan": {**dataclasses.asdict(plan), "streamed_sequential": args.streamed},
        "quick": args.quick,
        "cores": os.cpu_count(),
        "load_average_before": os.getloadavg(),
    }
    print(f"{len(specs)} targets x {rounds} rounds at {setup['commit']}, {setup['date']}")

    workdir = Path(tempfile.mkdtemp(prefix="chatgateway-compare-"))
    results: list[dict[str, Any]] = []
    try:
        with contextlib.ExitStack() as stack:
            upstream_url, upstream_port, upstream_pid = stack.enter_context(fake_upstream(workdir))
            shared = Shared(workdir, args.venvs, upstream_url, upstream_port, upstream_pid)
            if uses_pg:
                if not args.pg_database.startswith("bench"):
                    raise SystemExit("give the run a database of its own (--pg-database bench_...)")
                shared.database_url = stack.enter_context(
                    bench.database("postgres", workdir, args.pg_server, args.pg_database)
                )
                env = bench.gateway_env(
                    database_url=shared.database_url, upstream_url=upstream_url, port=8000, workers=2, workdir=workdir
                )
                bench.manage(env, "migrate", "--noinput")
                bench.manage(env, "collectstatic", "--noinput", "--verbosity", "0")
                shared.credentials = bench.make_user(env, limits=True)
            for number in range(1, rounds + 1):
                order = specs if number % 2 else specs[::-1]  # every other round the other way round: drift evens out
                print(f"round {number}/{rounds}, load average {os.getloadavg()[0]:.2f}")
                results.append({spec.key: run_target(spec, shared, number, plan, args) for spec in order})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    setup["load_average_after"] = os.getloadavg()
    summary = summarize(specs, results)
    report(setup, specs, summary, results, plan)
    if args.json:
        payload = {"setup": setup, "summary": summary, "rounds": results}
        args.json.write_text(json.dumps(payload, indent=2, default=str))
    gateway_failed = any(
        round_results[spec.key]["failed"] for round_results in results for spec in specs if spec.kind in GATEWAY_KINDS
    )
    if gateway_failed:
        print("\nFAILED: some requests to the gateway failed (see above).")
    return 1 if gateway_failed else 0


# --- medians over the rounds, and the table --------------------------------------------------------
def median(values: list[float | None]) -> float:
    present = [value for value in values if value is not None and not math.isnan(value)]
    return statistics.median(present) if present else math.nan


def summarize(specs: list[Spec], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per target and credential, the median over the rounds of each figure; latency added to direct's of the
    same round."""
    summary: dict[str, Any] = {}
    direct_started = all("start_error" not in r.get("direct", {}) for r in results)
    has_direct = direct_started and any(spec.kind == "direct" for spec in specs)
    for spec in specs:
        started = [(r, r[spec.key]) for r in results if "start_error" not in r[spec.key]]
        if not started:
            summary[spec.key] = {"label": spec.label, "start_error": results[0][spec.key]["start_error"]}
            continue
        runs = [run for _, run in started]
        rows = {}
        for label in runs[0]["credentials"]:

            def each(path: tuple[str, ...], label: str = label, runs: list = runs) -> list[float]:
                values = []
                for run in runs:
                    value: Any = run["credentials"][label]
                    for part in path:
                        value = value.get(part) if isinstance(value, dict) else None
                    values.append(value)
                return values

            row = {
                "p50_ms": median(each(("sequential", "p50_ms"))),
                "p99_ms": median(each(("sequential", "p99_ms"))),
                "rps": median(each(("throughput", "rps"))),
                "cpu_ms": median(each(("throughput", "cpu_ms_per_request"))),
                "db_cpu_ms": median(each(("throughput", "db_cpu_ms_per_request"))),
                "db_connections": max(filter(None, each(("throughput", "db_connections"))), default=None),
                "streamed_p50_ms": median(each(("streamed", "p50_ms"))),
                "rps_each_round": each(("throughput", "rps")),
            }
            if has_direct:
                direct = [next(iter(r["direct"]["credentials"].values()))["sequential"] for r, _ in started]
                for q in ("p50_ms", "p99_ms"):
                    added = [
                        run["credentials"][label]["sequential"][q] - d[q] for run, d in zip(runs, direct, strict=True)
                    ]
                    row[f"added_{q}"] = median(added)
            rows[label] = row
        held = [run["held"] for run in runs]
        summary[spec.key] = {
            "label": spec.label,
            "credentials": rows,
            "held": {
                "credential": held[0]["credential"],
                "ok_percent": median([100 * h["ok"] / h["count"] for h in held]),
                "ttfb_p50_ms": median([h["ttfb_p50_ms"] for h in held]),
                "ttfb_p99_ms": median([h["ttfb_p99_ms"] for h in held]),
                "total_p50_ms": median([h["total_p50_ms"] for h in held]),
                "total_p99_ms": median([h["total_p99_ms"] for h in held]),
                "rss_mb": median([h["server"]["rss_mb"] for h in held]),
                "idle_rss_mb": median([run["idle"]["rss_mb"] for run in runs]),
                "db_connections": max((h["server"]["db_connections"] or 0 for h in held), default=None),
            },
            "failed": [run["failed"] for run in runs],
        }
    return summary


def fmt(value: float | None, digits: int = 1, unit: str = "", *, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:{'+' if sign else ''}.{digits}f}{unit}"


def report(
    setup: dict[str, Any], specs: list[Spec], summary: dict[str, Any], results: list[dict], plan: bench.Plan
) -> None:
    loads = " ".join(f"{x:.2f}" for x in setup["load_average_before"])
    loads_after = " ".join(f"{x:.2f}" for x in setup["load_average_after"])
    print(f"\nSide by side (issue 17){', QUICK' if setup['quick'] else ''}: commit {setup['commit']}, {setup['date']}")
    print(f"{setup['cores']} cores; load average before {loads}, after {loads_after}")
    print("versions: " + ", ".join(f"{name} {version}" for name, version in setup["versions"].items()))
    print(
        f"medians over {setup['rounds']} interleaved round(s); sequential: {plan.sequential} requests after "
        f"{plan.warmup}; throughput: {plan.seconds:g} s at concurrency {plan.concurrency}; streamed: "
        f"{setup['plan']['streamed_sequential']} sequential streams of 20 chunks, no pause"
    )
    litellm = summary.get("litellm")
    litellm_rps = next(iter(litellm["credentials"].values()))["rps"] if litellm and "credentials" in litellm else None
    ratio_head = " / LiteLLM" if litellm_rps else ""
    print(
        f"\n| target | added p50 | added p99 | req/s at c={plan.concurrency} |{ratio_head and ' ÷ LiteLLM |'} "
        "proxy CPU per request | DB CPU per request | streamed total p50 | failed |"
    )
    print(f"|---|--:|--:|--:|{'--:|' if ratio_head else ''}--:|--:|--:|--:|")
    for spec in specs:
        entry = summary[spec.key]
        if "start_error" in entry:
            print(f"| {entry['label']} | did not start: {entry['start_error']} |")
            continue
        for label, row in entry["credentials"].items():
            name = entry["label"] if spec.kind in {"direct", "litellm"} else f"{entry['label']} ({label})"
            if spec.kind == "direct":
                name += " (the upstream's own CPU)"
            rounds = " / ".join(fmt(v, 0) for v in row["rps_each_round"])
            ratio = f" {fmt(row['rps'] / litellm_rps, 2, 'x')} |" if litellm_rps else ""
            failed = sum(
                count
                for run in results
                if "start_error" not in run[spec.key]
                for reason, count in run[spec.key]["failed"].items()
                if f"({label})" in reason or (reason.startswith("held") and label == entry["held"]["credential"])
            )
            print(
                f"| {name} | {fmt(row.get('added_p50_ms'), 2, ' ms', sign=True)} "
                f"| {fmt(row.get('added_p99_ms'), 2, ' ms', sign=True)} | {fmt(row['rps'], 0)} ({rounds}) |{ratio} "
                f"{fmt(row['cpu_ms'], 2, ' ms')} | {fmt(row['db_cpu_ms'], 2, ' ms')} | "
                f"{fmt(row['streamed_p50_ms'], 1, ' ms')} | {failed} |"
            )
    print(
        f"\n{plan.streams} streams opened at once, {plan.chunks} chunks {plan.interval * 1000:g} ms apart "
        "(success: a 200 with every chunk, the usage and [DONE]):"
    )
    print("\n| target | success | TTFB p50 | TTFB p99 | total p50 | total p99 | peak RSS (idle) | peak DB conns |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for spec in specs:
        entry = summary[spec.key]
        if "start_error" in entry:
            continue
        held = entry["held"]
        name = entry["label"] + (f" ({held['credential']})" if spec.kind in GATEWAY_KINDS else "")
        connections = held["db_connections"] if spec.kind in GATEWAY_KINDS else "-"
        print(
            f"| {name} | {fmt(held['ok_percent'], 1, ' %')} | {fmt(held['ttfb_p50_ms'], 0, ' ms')} | "
            f"{fmt(held['ttfb_p99_ms'], 0, ' ms')} | {fmt(held['total_p50_ms'], 0, ' ms')} | "
            f"{fmt(held['total_p99_ms'], 0, ' ms')} | {fmt(held['rss_mb'], 0, ' MB')} ({fmt(held['idle_rss_mb'], 0)}) "
            f"| {connections} |"
        )
    problems = [
        (spec.key, number, run[spec.key])
        for number, run in enumerate(results, 1)
        for spec in specs
        if run[spec.key]["failed"] or run[spec.key].get("log")
    ]
    for key, number, result in problems:
        print(f"\n{key}, round {number}: failures {json.dumps(result['failed'])}")
        for line in result.get("log") or []:
            print(f"   {line[:200]}")


if __name__ == "__main__":
    sys.exit(main())
