"""The metrics over a bench run (issue 16): Prometheus scraping the gateway under mixed traffic, every query of
the Grafana dashboard evaluated, and Prometheus' own graphs of the key ones saved as PNG.

    .venv/bin/python bench/metrics_demo.py [--database postgres|sqlite] [--seconds 180] [--screenshots docs/images]

Needs Prometheus (Debian: `apt-get install prometheus`; 2.42 was used) and, for `--screenshots`, Chromium.
Neither is a dependency of the project: this is a measurement, run by hand. It:

1. starts the development upstream (devtools/devupstream.py, for its faults: `[dev:status=503]`, `[dev:cut=3]`)
   and the gateway as bench/run.py does (`manage.py serve`, 2 workers, a fresh database), with
   `CHATGATEWAY_METRICS_TOKEN` set, a price for the model (so cost is counted), and three users: `bench`
   (a JWT and an API key, generous limits), `limited` (20 requests a minute) and `thrifty` (a day's budget
   of $0.0003);
2. starts Prometheus on a free port, with a generated configuration that scrapes `/metrics` every second
   with the bearer token, and a throwaway data directory;
3. drives `--seconds` of mixed traffic, quiet, then busy, then in between: non-streamed and streamed
   `/v1/chat/completions` with the JWT and the API key, `GET /api?q=` (the ChatAPI), `GET /api/quota/`,
   `GET /v1/models`, upstream 503s and cut streams, and the two limited users' refusals; on PostgreSQL, at two
   thirds of the run, the run's own database refuses connections for 20 s (`ALLOW_CONNECTIONS false`, its
   sessions ended; the server and its other databases untouched), so relay results wait in the outbox;
4. evaluates every PromQL expression of docs/grafana/chatgateway.json through `/api/v1/query_range` over the
   run (Grafana's `$__rate_interval` as 30s, `$family` as `.*`), and the `family` variable's values, and
   prints each panel's title with what came back;
5. with `--screenshots DIR`, saves Prometheus' graph page (its classic UI, which Debian's package serves)
   for the key queries, through headless Chromium.

It exits 1 when a query fails or a panel has no data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

DASHBOARD = bench.REPO / "docs" / "grafana" / "chatgateway.json"
METRICS_TOKEN = "bench-metrics-token"  # noqa: S105  (a throwaway token)
RATE_INTERVAL = "30s"
STEP = 5  # seconds between the points of a range query
OUTAGE = 20.0  # seconds the database refuses connections (PostgreSQL only): more than the pool waits (10 s)

USERS = """
import json
from decimal import Decimal
from accounts.models import User
from accounts.tokens import issue_access_token
from quota.models import Limit, Quota
out = {}
for name, metric, period, amount in (("limited", "requests", "minute", 20), ("thrifty", "cost", "day", "0.0003")):
    user = User.objects.create_user(username=name, password=None)
    Quota.objects.get_or_create(user=user)
    Quota.objects.filter(user=user).update(daily_limit=2_000_000_000, daily_token_limit=None)  # only the limit below
    Limit.objects.create(user=user, metric=metric, period=period, amount=Decimal(amount))
    out[name] = str(issue_access_token(user))
print("BENCH", json.dumps(out))
"""

# What the screenshots show: (file name, [expressions, one graph each]). The dashboard's
# own queries, with Grafana's variables filled in as above, except the first, which is by endpoint.
SHOTS = [
    ("metrics-requests.png", ["sum by (endpoint, status) (rate(chatgateway_requests_total[30s]))"]),
    (
        "metrics-latency.png",
        [
            "histogram_quantile(0.5, sum by (le) (rate(chatgateway_request_duration_seconds_bucket[30s])))",
            "histogram_quantile(0.95, sum by (le) (rate(chatgateway_request_duration_seconds_bucket[30s])))",
        ],
    ),
    (
        "metrics-tokens-cost.png",
        [
            "sum by (model, kind) (rate(chatgateway_tokens_total[30s])) * 60",
            "sum by (model, provider, currency) (rate(chatgateway_cost_total[30s])) * 3600",
        ],
    ),
    ("metrics-streams.png", ["sum(chatgateway_streams_open)"]),
    (
        "metrics-failures-refusals.png",
        [
            "sum by (reason) (rate(chatgateway_upstream_failures_total[30s])) * 60",
            "sum by (kind) (rate(chatgateway_quota_refusals_total[30s])) * 60",
        ],
    ),
]


# --- requests ---------------------------------------------------------------------------------------
def http_request(method: str, path: str, port: int, credential: str, payload: dict[str, Any] | None = None) -> bytes:
    body = json.dumps(payload).encode() if payload is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {credential}\r\n"
    if payload is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def chat(port: int, credential: str, text: str, *, stream: bool = False) -> bytes:
    payload: dict[str, Any] = {"model": bench.MODEL, "messages": [{"role": "user", "content": text}]}
    if stream:
        payload |= {"stream": True, "stream_options": {"include_usage": True}}
    return http_request("POST", "/v1/chat/completions", port, credential, payload)


class Traffic:
    """Clients that each send one kind of request, then wait; the waits shrink in the busy middle third."""

    def __init__(self, port: int, credentials: dict[str, str], seconds: float, outage: tuple[str, str] | None) -> None:
        self.port, self.credentials, self.seconds, self.outage = port, credentials, seconds, outage
        self.statuses: Counter[str] = Counter()
        self.started = 0.0

    def pace(self) -> float:
        third = int(3 * (time.perf_counter() - self.started) / self.seconds)
        return (1.0, 0.35, 0.6)[min(third, 2)]

    async def client(self, name: str, request: bytes, wait: float, *, paced: bool = True) -> None:
        connection = bench.Connection(self.port)
        deadline = self.started + self.seconds
        await asyncio.sleep(random.uniform(0, wait))  # noqa: S311  (spread the clients' starts)
        while time.perf_counter() < deadline:
            try:
                status, _, _ = await asyncio.wait_for(connection.send(request), 60)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                status = type(exc).__name__
                connection.close()
            self.statuses[f"{name} {status}"] += 1
            await asyncio.sleep(wait * (self.pace() if paced else 1) * random.uniform(0.5, 1.5))  # noqa: S311
        connection.close()

    async def run(self) -> None:
        port, jwt, key = self.port, self.credentials["jwt"], self.credentials["api_key"]
        shaped = "[dev:chunks=12] [dev:interval=0.25] Count."
        clients = [
            *(self.client("chat jwt", chat(port, jwt, "Say hello."), 0.08) for _ in range(3)),
            *(self.client("chat key", chat(port, key, "Say hello."), 0.08) for _ in range(3)),
            *(self.client("stream jwt", chat(port, jwt, shaped, stream=True), 0.5) for _ in range(3)),
            *(self.client("stream key", chat(port, key, shaped, stream=True), 0.5) for _ in range(3)),
            self.client("upstream 503", chat(port, key, "[dev:status=503] Fail."), 1.0),
            self.client("stream cut", chat(port, jwt, "[dev:chunks=8] [dev:interval=0.1] [dev:cut=3]", stream=True), 2),
            self.client("chatapi", http_request("GET", "/api?q=Hello", port, jwt), 0.5),
            self.client("rest quota", http_request("GET", "/api/quota/", port, key), 0.5),
            self.client("models", http_request("GET", "/v1/models", port, key), 1.0),
            self.client("limited", chat(port, self.credentials["limited"], "Hi."), 0.5, paced=False),
            self.client("thrifty", chat(port, self.credentials["thrifty"], "Hi."), 0.5, paced=False),
        ]
        if self.outage:
            clients.append(self.database_outage(*self.outage))
        self.started = time.perf_counter()
        await asyncio.gather(*clients)

    async def database_outage(self, server_url: str, name: str) -> None:
        """At two thirds of the run, the gateway's database refuses connections for OUTAGE seconds (only this
        run's database: the server is shared), so that relay results wait in the outbox."""
        await asyncio.sleep(2 * self.seconds / 3)
        await asyncio.to_thread(bench.admin_sql, server_url, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        terminate = f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"  # noqa: S608
        await asyncio.to_thread(bench.admin_sql, server_url, terminate)
        print(f"database {name} down at {time.perf_counter() - self.started:.0f} s", flush=True)
        await asyncio.sleep(OUTAGE)
        await asyncio.to_thread(bench.admin_sql, server_url, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        print(f"database {name} back at {time.perf_counter() - self.started:.0f} s", flush=True)


# --- Prometheus -------------------------------------------------------------------------------------
def prometheus_config(workdir: Path, gateway_port: int) -> Path:
    path = workdir / "prometheus.yml"
    path.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: chatgateway\n"
        "    metrics_path: /metrics\n"
        f"    authorization: {{type: Bearer, credentials: {METRICS_TOKEN}}}\n"
        f'    static_configs: [{{targets: ["127.0.0.1:{gateway_port}"]}}]\n'
    )
    return path


def api(port: int, endpoint: str, **params: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/api/v1/{endpoint}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:  # a query Prometheus refused: its error in JSON
        return json.load(error)


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(panel title, legend, PromQL) of each target, with Grafana's variables filled in."""
    queries = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", RATE_INTERVAL).replace("$family", ".*")
            queries.append((panel["title"], target.get("legendFormat", ""), expr))
    return queries


def evaluate(port: int, start: float, end: float) -> bool:
    """Every query of the dashboard over the run; True when each parsed and returned data."""
    ok = True
    values = api(port, "label/family/values", **{"match[]": "chatgateway_requests_total"})
    print(f"\nvariable family: label_values(chatgateway_requests_total, family) = {values.get('data')}")
    ok &= bool(values.get("data"))
    print(f"\n{'panel':45} {'legend':22} {'series':>6} {'max':>10}  result")
    for title, legend, expr in dashboard_queries():
        answer = api(port, "query_range", query=expr, start=f"{start:.0f}", end=f"{end:.0f}", step=str(STEP))
        if answer.get("status") != "success":
            print(f"{title[:45]:45} {legend[:22]:22} {'':>6} {'':>10}  ERROR {answer.get('error')}")
            ok = False
            continue
        series = answer["data"]["result"]
        numbers = [float(v) for s in series for _, v in s["values"] if v not in ("NaN", "+Inf", "-Inf")]
        peak = max(numbers) if numbers else float("nan")
        verdict = "data" if numbers and peak > 0 else ("zeros only" if numbers else "NO DATA")
        ok &= verdict == "data"
        print(f"{title[:45]:45} {legend[:22]:22} {len(series):6} {peak:10.4g}  {verdict}")
        for s in series[:8]:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s["metric"].items()))
            print(f"{'':47}{{{labels}}}")
    return ok


def screenshots(port: int, start: float, end: float, directory: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no Chromium to take the screenshots with")
    directory.mkdir(parents=True, exist_ok=True)
    end = math.ceil(end / 60) * 60  # the graph page's end is to the minute
    minutes = max(1, math.ceil((end - start) / 60))
    end_input = dt.datetime.fromtimestamp(end, dt.UTC).strftime("%Y-%m-%d %H:%M")
    for name, exprs in SHOTS:
        params: dict[str, str] = {}
        for index, expr in enumerate(exprs):
            params |= {
                f"g{index}.expr": expr,
                f"g{index}.tab": "0",
                f"g{index}.range_input": f"{minutes}m",
                f"g{index}.end_input": end_input,
                f"g{index}.step_input": "2",
            }
        url = f"http://127.0.0.1:{port}/classic/graph?{urllib.parse.urlencode(params)}"
        span = {"start": f"{start:.0f}", "end": f"{end:.0f}", "step": "10"}
        series = [len(api(port, "query_range", query=expr, **span)["data"]["result"]) for expr in exprs]
        height = 90 + sum(720 + 20 * count for count in series)  # each graph and its legend, a line a series
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            f"--window-size=1000,{height}", "--virtual-time-budget=10000", f"--screenshot={directory / name}", url,
        ]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=120)  # noqa: S603
        print(f"saved {directory / name} ({(directory / name).stat().st_size // 1024} KB): {' | '.join(exprs)}")


# --- the run ----------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--pg-database", default="bench_metrics_demo")
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--prometheus", default=shutil.which("prometheus") or "prometheus")
    parser.add_argument("--screenshots", type=Path, help="save Prometheus' graphs of the key queries here")
    args = parser.parse_args()
    bench.raise_open_file_limit()

    workdir = Path(tempfile.mkdtemp(prefix="chatgateway-metrics-demo-"))
    try:
        with contextlib.ExitStack() as stack:
            upstream_url = stack.enter_context(bench.upstream("dev", workdir))
            database_url = stack.enter_context(bench.database(args.database, workdir, args.pg_server, args.pg_database))
            port = bench.free_port()
            env = bench.gateway_env(
                database_url=database_url, upstream_url=upstream_url, port=port, workers=args.workers, workdir=workdir
            )
            env |= {
                "CHATGATEWAY_METRICS": "1",
                "CHATGATEWAY_METRICS_TOKEN": METRICS_TOKEN,
                "CHATGATEWAY_METRICS_DIR": str(workdir / "metrics"),
                "CHATGATEWAY_OUTBOX_DIR": str(workdir / "outbox"),
            }
            bench.manage(env, "migrate", "--noinput")
            bench.manage(env, "collectstatic", "--noinput", "--verbosity", "0")
            credentials = bench.make_user(env, limits=True)  # a price in force, and limits none of which binds
            output = bench.manage(env, "shell", "--verbosity", "0", "--command", USERS)
            credentials |= json.loads(next(line for line in output.splitlines() if line.startswith("BENCH "))[6:])
            server = stack.enter_context(
                bench.running([bench.PYTHON, "manage.py", "serve"], env=env, log=workdir / "gateway.log")
            )
            bench.wait_for(f"http://127.0.0.1:{port}/healthz", server, "the gateway")
            prom_port = bench.free_port()
            prometheus = stack.enter_context(
                bench.running(
                    [
                        args.prometheus,
                        f"--config.file={prometheus_config(workdir, port)}",
                        f"--storage.tsdb.path={workdir / 'prometheus'}",
                        f"--web.listen-address=127.0.0.1:{prom_port}",
                    ],
                    log=workdir / "prometheus.log",
                )
            )
            bench.wait_for(f"http://127.0.0.1:{prom_port}/-/ready", prometheus, "Prometheus")
            version = subprocess.run([args.prometheus, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
            name = version.stdout.splitlines()[0] if version.stdout else "prometheus"
            print(f"{name} on :{prom_port}, gateway on :{port}")
            time.sleep(3)  # a few scrapes of the idle gateway
            start = time.time()
            outage = (args.pg_server, args.pg_database) if args.database == "postgres" else None
            traffic = Traffic(port, credentials, args.seconds, outage)
            asyncio.run(traffic.run())
            time.sleep(4)  # the last scrapes
            end = time.time()
            print(
                f"\n{args.seconds:g} s of traffic on {args.database}, {args.workers} workers, at {bench.code_version()}"
            )
            for name, count in sorted(traffic.statuses.items()):
                print(f"   {name:24} {count:6}")
            targets = api(prom_port, "targets")["data"]["activeTargets"]
            print("scrape target:", [(t["scrapeUrl"], t["health"], t["lastError"]) for t in targets])
            ok = evaluate(prom_port, start, end)
            if args.screenshots:
                screenshots(prom_port, start - 10, end, args.screenshots)
            problems = bench.problems_in_log(workdir / "gateway.log")
            if problems:
                print("\nThe gateway logged (first distinct lines):")
                for line in problems:
                    print(f"   {line[:200]}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\nevery panel returned data" if ok else "\nSOME PANEL FAILED OR HAD NO DATA")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
