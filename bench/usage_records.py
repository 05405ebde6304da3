"""Ten million usage records (issue 17): make them in PostgreSQL, then load the admin's usage pages over them.

    .venv/bin/python bench/usage_records.py --load                  # make bench_usage10m: 10,000,000 records
    .venv/bin/python bench/usage_records.py --measure               # time each page an administrator loads
    .venv/bin/python bench/usage_records.py --measure --export      # and stream the whole table as CSV

`--load` drops and makes the database `--pg-database` (it must start with `bench_`) on `--pg-server`, runs the
project's migrations, adds 300 users (one a staff superuser, `bench-admin`), 4 teams, an API key for half of the
users, and `--rows` records over the last 365 days with `INSERT … SELECT generate_series` in batches of a
million (the secondary indexes dropped during the load and made again after it, as a restore would), then
`VACUUM ANALYZE`. It prints the time taken and the table's size. The database is kept for `--measure`; drop it
with `dropdb -h 127.0.0.1 -U postgres bench_usage10m`.

`--measure` loads each page through Django's test client in this process (logged in as `bench-admin`, `DEBUG`
off), `--repeat` times, and prints the first and the median time and the number of queries; `-v` prints each
page's slowest query. `--export` streams the CSV export of the whole table through the ASGI path (an async
client, the response's chunks pulled one by one as a server would) and prints the time to the first chunk, the
total time and this process's peak RSS (`VmHWM`) before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import SECRET, admin_sql

USERS = 300
TEAMS = ("research", "support", "platform", "sales")
BATCH = 1_000_000

# model, provider, upstream model, nanos per prompt token, nanos per completion token, share of requests (%)
MODELS = (
    ("gpt-4o-mini", "openai", "gpt-4o-mini-2024-07-18", 150, 600, 45),
    ("gpt-4o", "openai", "gpt-4o-2024-08-06", 2500, 10000, 20),
    ("claude-sonnet", "anthropic", "claude-3-5-sonnet-20241022", 3000, 15000, 12),
    ("text-embedding-3-small", "openai", "text-embedding-3-small", 20, 0, 10),
    ("o3-mini", "azure", "o3-mini", 1100, 4400, 6),
    ("llama-3.1-70b", "local", "meta-llama/Llama-3.1-70B-Instruct", 0, 0, 7),
)

# One batch of records, ids `lo` to `hi`: the records are spread evenly over `days` days ending today, in order
# (ids grow with time, as the relay writes them), most of them in working hours. A user is drawn with a skew
# (a few heavy users, a long tail), a model by its share; errors are about 4% of the records.
INSERT = """
WITH picked AS (
    SELECT g,
           random() AS r_model, random() AS r_endpoint, random() AS r_status, random() AS r_stream,
           random() AS r_prompt, random() AS r_completion, random() AS r_latency, random() AS r_time,
           random() AS r_attempts,
           least(%(users)s - 1, floor(%(users)s * power(random(), 1.8)))::int AS u,
           floor((g - 1)::float8 * %(days)s / %(rows)s)::int AS d
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
), shaped AS (
    SELECT p.*, m.model, m.provider, m.upstream_model, m.in_nanos, m.out_nanos,
           bu.user_id, bu.api_key_id, bu.team,
           least(now(), %(first)s::timestamptz + make_interval(days => p.d)
                 + make_interval(secs => 86400 * CASE WHEN p.r_time < 0.85 THEN 0.3 + 0.45 * p.r_time / 0.85
                                                      ELSE (p.r_time - 0.85) / 0.15 END)) AS at,
           CASE WHEN p.r_status < 0.960 THEN 200 WHEN p.r_status < 0.972 THEN 429 WHEN p.r_status < 0.978 THEN 400
                WHEN p.r_status < 0.988 THEN 499 WHEN p.r_status < 0.996 THEN 502 ELSE 503 END AS status
    FROM picked p
    JOIN bench_models m ON p.r_model * 100 >= m.lo AND p.r_model * 100 < m.hi
    JOIN bench_users bu ON bu.n = p.u
), counted AS (
    SELECT s.*,
           CASE WHEN status IN (200, 499, 502, 503) THEN 20 + floor(power(r_prompt, 3) * 6000)::int ELSE 0 END
               AS prompt,
           CASE WHEN status = 200 AND model NOT LIKE 'text-embedding%%'
                THEN 5 + floor(power(r_completion, 2) * 1500)::int ELSE 0 END AS completion
    FROM shaped s
)
INSERT INTO relay_usagerecord (
    user_id, api_key_id, team, created, day, endpoint, stream, model, status_code, prompt_tokens,
    completion_tokens, total_tokens, estimated, cost, currency, latency_ms, ttfb_ms, upstream_request_id, error,
    provider, upstream_model, attempts, failed_attempts, prompt_text, completion_text, reservation_id, request_id
)
SELECT user_id, api_key_id, team, at, (at AT TIME ZONE %(tz)s)::date,
       CASE WHEN model LIKE 'text-embedding%%' THEN 'embeddings'
            WHEN r_endpoint < 0.60 THEN 'v1' WHEN r_endpoint < 0.75 THEN 'chat' WHEN r_endpoint < 0.85 THEN 'responses'
            WHEN r_endpoint < 0.95 THEN 'conversation' WHEN r_endpoint < 0.98 THEN 'chatapi' ELSE 'completions' END,
       model NOT LIKE 'text-embedding%%' AND r_stream < 0.4,
       model, status,
       prompt, completion, prompt + completion,
       r_completion < 0.01,
       -- charged at the model's price when it answered; nothing for a failure
       CASE WHEN status = 200 THEN prompt * in_nanos + completion * out_nanos ELSE 0 END,
       CASE WHEN status = 200 AND in_nanos > 0 THEN %(currency)s ELSE '' END,
       CASE WHEN status = 429 THEN 2 + floor(r_latency * 20)::int ELSE 150 + floor(power(r_latency, 2) * 9000)::int END,
       CASE WHEN model NOT LIKE 'text-embedding%%' AND r_stream < 0.4 AND status = 200
            THEN 80 + floor(r_latency * 900)::int END,
       CASE WHEN status = 200 THEN 'chatcmpl-' || substr(md5(g::text), 1, 24) ELSE '' END,
       CASE status WHEN 200 THEN '' WHEN 429 THEN 'quota_exceeded' WHEN 400 THEN 'invalid_request'
                   WHEN 499 THEN 'client_disconnected' WHEN 502 THEN 'upstream_error' ELSE 'upstream_unavailable' END,
       CASE WHEN status IN (200, 499, 502) THEN provider ELSE '' END,
       CASE WHEN status IN (200, 499, 502) THEN upstream_model ELSE '' END,
       CASE WHEN status IN (429, 400) THEN 0 WHEN r_attempts < 0.02 THEN 2 ELSE 1 END,
       CASE WHEN status NOT IN (429, 400) AND r_attempts < 0.02
            THEN jsonb_build_array(jsonb_build_object('provider', provider, 'model', upstream_model,
                                                      'reason', 'upstream_timeout', 'status', 504))
            ELSE '[]'::jsonb END,
       '', '',
       CASE WHEN status <> 400 THEN md5(g::text || 'reservation')::uuid END,
       md5(g::text || 'request')
FROM counted
"""


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--pg-database", default="bench_usage10m")
    parser.add_argument("--load", action="store_true", help="make the database and its records (drops it first)")
    parser.add_argument("--measure", action="store_true", help="load each page as an administrator")
    parser.add_argument("--export", action="store_true", help="stream the CSV export of the whole table")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="", help="measure only the pages whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each page's slowest query")
    args = parser.parse_args()
    if not args.pg_database.startswith("bench_"):
        parser.error("--pg-database must start with bench_ (it is dropped and made again by --load)")
    return args


def setup_django(args: argparse.Namespace) -> None:
    os.environ["DATABASE_URL"] = f"{args.pg_server}/{args.pg_database}"
    os.environ["DEBUG"] = "0"  # no list of every query kept in memory
    os.environ.setdefault("DJANGO_SECRET_KEY", SECRET)
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DATABASE_POOL_MAX_SIZE"] = "0"  # one connection, kept: as a server thread between requests
    os.environ["DATABASE_CONN_MAX_AGE"] = "600"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatgateway.settings")
    import django
    from django.conf import settings

    django.setup()
    # Pages are rendered without collectstatic: plain static URLs, not the manifest's.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def load(args: argparse.Namespace) -> None:
    admin_sql(args.pg_server, f'DROP DATABASE IF EXISTS "{args.pg_database}" WITH (FORCE)')
    admin_sql(args.pg_server, f'CREATE DATABASE "{args.pg_database}"')
    setup_django(args)
    import datetime as dt

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from apikeys.services import create_api_key
    from quota.models import Quota
    from teams.models import Membership, Team

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    users = [User(username=f"user{n:03d}", email=f"user{n:03d}@example.com") for n in range(USERS - 1)]
    for user in users:
        user.set_unusable_password()
    User.objects.bulk_create(users)
    User.objects.create_superuser(username="bench-admin", email="admin@example.com", password=None)
    users = list(User.objects.order_by("id"))
    Quota.objects.bulk_create([Quota(user=user) for user in users], ignore_conflicts=True)
    teams = [Team.objects.create(name=name) for name in TEAMS]
    rows = []
    for n, user in enumerate(users):
        team = teams[n % len(teams)] if n % 5 else None  # four users in five belong to a team
        if team:
            Membership.objects.create(team=team, user=user, is_default=True)
        key = create_api_key(user=user, name="script")[0] if n % 2 == 0 else None
        rows.append((n, user.pk, key.pk if key else None, team.name if team else ""))
    print(f"migrated, {len(users)} users, {len(teams)} teams, {sum(1 for r in rows if r[2])} API keys "
          f"in {time.monotonic() - started:.1f} s")  # fmt: skip

    first = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=args.days - 1)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_users (n int PRIMARY KEY, user_id bigint, api_key_id bigint, team text)")
        cursor.executemany("INSERT INTO bench_users VALUES (%s, %s, %s, %s)", rows)
        cursor.execute(
            "CREATE TABLE bench_models (model text, provider text, upstream_model text, in_nanos bigint,"
            " out_nanos bigint, lo float8, hi float8)"
        )
        lo = 0
        for model, provider, upstream_model, in_nanos, out_nanos, share in MODELS:
            hi = lo + share if model != MODELS[-1][0] else 101
            cursor.execute(
                "INSERT INTO bench_models VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [model, provider, upstream_model, in_nanos, out_nanos, lo, hi],
            )
            lo = hi
        # The indexes are made once, after the load, as a restore would.
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'relay_usagerecord'"
            " AND indexname NOT LIKE '%%_pkey'"
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'relay_usagerecord'::regclass AND contype = 'f'"
        )
        foreign_keys = cursor.fetchall()
        for name, _ in foreign_keys:
            cursor.execute(f'ALTER TABLE relay_usagerecord DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    loading = time.monotonic()
    for lo in range(1, args.rows + 1, BATCH):
        hi = min(lo + BATCH - 1, args.rows)
        with connection.cursor() as cursor:
            params = {"lo": lo, "hi": hi, "rows": args.rows, "days": args.days, "users": USERS, "first": first}
            cursor.execute(INSERT, {**params, "tz": settings.TIME_ZONE, "currency": settings.CHATGATEWAY_CURRENCY})
        print(f"  {hi:>11,} records, {time.monotonic() - loading:6.1f} s", flush=True)
    indexing = time.monotonic()
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE relay_usagerecord ADD CONSTRAINT "{name}" {definition}')
        cursor.execute("DROP TABLE bench_users, bench_models")
    print(f"indexes and foreign keys made again in {time.monotonic() - indexing:.1f} s", flush=True)
    vacuuming = time.monotonic()
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE relay_usagerecord")
        cursor.execute(
            "SELECT count(*), pg_size_pretty(pg_table_size('relay_usagerecord')),"
            " pg_size_pretty(pg_indexes_size('relay_usagerecord')),"
            " pg_size_pretty(pg_database_size(current_database())) FROM relay_usagerecord"
        )
        count, table, index, database = cursor.fetchone()
    print(f"VACUUM ANALYZE in {time.monotonic() - vacuuming:.1f} s")
    print(
        f"{count:,} records in {time.monotonic() - started:.0f} s: table {table}, indexes {index}, database {database}"
    )


# --- the pages, as an administrator loads them ------------------------------------------------------------------


def pages(user_id: int, username: str, team_id: int) -> list[tuple[str, str, dict]]:
    """(name, path, extra request headers) of each page measured."""
    changelist = "/admin/relay/usagerecord/"
    dashboard = "/admin/relay/usagerecord/dashboard/"
    return [
        ("dashboard, 7 days", f"{dashboard}?days=7", {}),
        ("dashboard, 30 days", dashboard, {}),
        ("dashboard, 90 days", f"{dashboard}?days=90", {}),
        ("usage list, first page", changelist, {}),
        ("usage list, status 502", f"{changelist}?status_code__exact=502", {}),
        ("usage list, model gpt-4o", f"{changelist}?model__exact=gpt-4o", {}),
        ("usage list, a user", f"{changelist}?user__id__exact={user_id}", {}),
        ("usage list, search a username", f"{changelist}?q={username}", {}),
        ("usage list, search a request id", f"{changelist}?q=" + "0" * 32, {}),
        ("usage list, page 100", f"{changelist}?p=100", {}),
        ("a user's change page", f"/admin/accounts/user/{user_id}/change/", {}),
        ("a team's change page", f"/admin/teams/team/{team_id}/change/", {}),
        ("/api/usage/, page 1", "/api/usage/", {}),
        ("/api/usage/, page 50", "/api/usage/?page=50", {}),
        ("/api/usage/, since 30 days, page 2", "/api/usage/?since={since}&page=2", {}),
    ]


def measure(args: argparse.Namespace) -> dict:
    setup_django(args)
    import datetime as dt

    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from accounts.tokens import issue_access_token
    from relay.models import UsageRecord
    from teams.models import Team

    admin = User.objects.get(username="bench-admin")
    heavy = User.objects.get(username="user000")  # the heaviest user: the skew puts most records on the first ones
    team = Team.objects.order_by("id").first()
    client = Client()
    client.force_login(admin)
    token = str(issue_access_token(heavy))
    since = (timezone.localdate() - dt.timedelta(days=29)).isoformat()
    results: dict = {"pages": {}}
    queries: list[tuple[float, str]] = []

    def timer(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((time.perf_counter() - started, sql))

    for name, path, headers in pages(heavy.pk, heavy.username, team.pk):
        if args.only and args.only not in name:
            continue
        path = path.format(since=since)
        if path.startswith("/api/"):
            headers = {**headers, "HTTP_AUTHORIZATION": f"Bearer {token}"}
        times = []
        for _ in range(args.repeat):
            queries.clear()
            with connection.execute_wrapper(timer):
                started = time.perf_counter()
                response = client.get(path, **headers)
                if response.streaming:
                    b"".join(response.streaming_content)
                times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"{name}: {path} answered {response.status_code}")
        slowest = max(queries, default=(0.0, ""))
        in_queries = sum(seconds for seconds, _ in queries)
        results["pages"][name] = {"path": path, "first_s": times[0], "median_s": statistics.median(times),
                                  "queries": len(queries), "slowest_query_s": slowest[0],
                                  "last_in_queries_s": in_queries}  # fmt: skip
        print(f"{name:38} first {times[0]:7.3f} s  median {statistics.median(times):7.3f} s  "
              f"{len(queries):3} queries ({in_queries:6.3f} s), slowest {slowest[0]:6.3f} s", flush=True)  # fmt: skip
        if args.verbose:
            for seconds, sql in sorted(queries, reverse=True)[:4]:
                print(f"    {seconds:6.3f} s  {sql[:300]}")
    if args.export:
        results["export"] = asyncio.run(export(admin))
    results["records"] = UsageRecord.objects.order_by().count() if args.json else None
    return results


def peak_rss_mb() -> tuple[float, float]:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


async def export(admin) -> dict:
    """The whole table as CSV through the ASGI handler, its chunks pulled one at a time as a server sends them."""
    from django.test import AsyncClient

    client = AsyncClient()
    await client.aforce_login(admin)
    rss_before, peak_before = peak_rss_mb()
    started = time.perf_counter()
    response = await client.get("/admin/relay/usagerecord/export/")
    if response.status_code != 200:
        raise SystemExit(f"the export answered {response.status_code}")
    if not response.is_async:
        raise SystemExit("the export must hand its chunks over one by one (an async iterator)")
    first = None
    size = lines = 0
    rss_samples = []
    async for chunk in response.streaming_content:
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
        lines += chunk.count(b"\n")
        if lines % 500_000 < 600:
            rss_samples.append(peak_rss_mb()[0])
    total = time.perf_counter() - started
    rss_after, peak_after = peak_rss_mb()
    result = {"ttfb_s": first, "total_s": total, "rows": lines - 1, "megabytes": size / 1e6,
              "rss_before_mb": rss_before, "peak_before_mb": peak_before, "rss_after_mb": rss_after,
              "peak_after_mb": peak_after, "rss_max_sampled_mb": max(rss_samples, default=rss_after)}  # fmt: skip
    print(f"CSV export: {lines - 1:,} rows, {size / 1e6:,.0f} MB, first chunk {first:.3f} s, all {total:.1f} s; "
          f"RSS {rss_before:.0f} MB before, peak {peak_after:.0f} MB (peak before {peak_before:.0f} MB)")  # fmt: skip
    return result


def main() -> int:
    args = parse()
    if args.load:
        load(args)
    if args.measure or args.export:
        if args.load:
            raise SystemExit("measure in a process of its own: run again with --measure")
        results = measure(args)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
