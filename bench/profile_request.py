"""Where one non-streamed `/v1/chat/completions` request spends its time, with pyinstrument.

    .venv/bin/pip install pyinstrument        # a profiling tool only: not in the requirements files
    .venv/bin/python bench/profile_request.py [--database sqlite|postgres] [--requests 300] [--api-key]

Sets up as bench/run.py does (fake upstream, fresh database, the production settings), then serves the
gateway from one uvicorn process (this script, `--serve`) that profiles each request, and sends it
`--requests` sequential requests after a warm-up. Two views are printed, as each request's share:
- the event loop: the request from the ASGI application's entry to its last byte, awaits included
  (pyinstrument's async mode), so time spent waiting on a thread or the upstream shows as `[await]`;
- the threads: what `sync_to_async` ran in the request's thread (middleware, authentication, the
  quota and the usage record), including the time the thread sat blocked while the view ran.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench


def serve(port: int, output: Path, skip: int, dump: Path | None) -> None:
    """Serve the gateway in this process, profiling each chat completion after the first `skip`."""
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer
    from pyinstrument.session import Session

    sys.path.insert(0, str(bench.REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatgateway.settings")
    import uvicorn
    from asgiref.sync import SyncToAsync
    from django.conf import settings

    from chatgateway.asgi import application

    loop_sessions: list[Session] = []
    thread_sessions: list[Session] = []
    state = {"seen": 0, "profiling": False}
    local = threading.local()
    original_handler = SyncToAsync.thread_handler

    def thread_handler(self, *args, **kwargs):
        # Only the outermost call in a thread: inner ones (the view's sync_to_async, run in the thread
        # that waits in async_to_sync for the view) are inside its profile already.
        if not state["profiling"] or getattr(local, "busy", False):
            return original_handler(self, *args, **kwargs)
        local.busy = True
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
        try:
            return original_handler(self, *args, **kwargs)
        finally:
            profiler.stop()
            local.busy = False
            thread_sessions.append(profiler.last_session)

    SyncToAsync.thread_handler = thread_handler

    async def profiled(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/_bench/stop":
            # Not a signal: uvicorn raises SIGTERM again once it has stopped, which would end this
            # process before it writes the profile.
            server.should_exit = True
            await send({"type": "http.response.start", "status": 200, "headers": []})
            return await send({"type": "http.response.body", "body": b""})
        if scope["type"] != "http" or scope["path"] != "/v1/chat/completions":
            return await application(scope, receive, send)
        state["seen"] += 1
        if state["seen"] <= skip:
            return await application(scope, receive, send)
        state["profiling"] = True
        profiler = Profiler(interval=0.0005, async_mode="enabled")
        profiler.start()
        try:
            return await application(scope, receive, send)
        finally:
            profiler.stop()
            state["profiling"] = False
            loop_sessions.append(profiler.last_session)

    config = uvicorn.Config(
        profiled,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        access_log=False,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips=settings.FORWARDED_ALLOW_IPS,
        timeout_keep_alive=settings.KEEP_ALIVE_SECONDS,
    )
    server = uvicorn.Server(config)
    server.run()

    renderer = ConsoleRenderer(
        unicode=True, color=False, time="seconds", short_mode=False, processor_options={"filter_threshold": 0.01}
    )
    with output.open("w") as out:
        for title, sessions in (("EVENT LOOP", loop_sessions), ("THREADS (sync_to_async)", thread_sessions)):
            if not sessions:
                continue
            combined = sessions[0]
            for session in sessions[1:]:
                combined = Session.combine(combined, session)
            out.write(
                f"=== {title}: {len(loop_sessions)} requests, {combined.duration:.3f} s in all, "
                f"{1000 * combined.duration / len(loop_sessions):.2f} ms a request ===\n"
            )
            if dump:
                (dump / f"{title.split()[0].lower()}.json").write_text(json.dumps(combined.to_json()))
            out.write(summary(combined, requests=len(loop_sessions)))
            out.write(renderer.render(combined))


STEPS = {  # the project's functions (innermost wins): what a sample of time was spent for
    "user_for_token": "authentication: the JWT's user",
    "APIKeyAuthentication.authenticate": "authentication: the API key and its user",
    "reserve_request": "quota: reserve",
    "settle_request": "quota: settle",
    "RelayAttempt._record": "usage record insert",
    "pass_through_completion": "the upstream call (openai SDK, httpx2)",
}
AWAITS = [  # what an await inside the request waits for (innermost marker wins)
    ("pass_through_completion", "await: the upstream's answer (network)"),
    ("in_db", "await: a database step in a database thread"),
    ("ThreadSensitiveContext.__aexit__", "await: the request's thread shutting down"),
    ("SyncToAsync.__call__", "await: sync middleware and signals in the thread"),
]


def _frames(stack: list[str]) -> list[tuple[str, str]]:
    """(Class.function or function, file) for each frame identifier of a pyinstrument stack."""
    frames = []
    for identifier in stack:
        name, *attributes = identifier.split("\x01")
        function, path = ([*name.split("\x00"), ""])[:2]
        owner = next((a[1:] for a in attributes if a.startswith("c")), None)
        frames.append((f"{owner}.{function}" if owner else function, path))
    return frames


def summary(session, *, requests: int) -> str:
    """Each request's time by where the innermost sample was (awaiting what, or running which package),
    and by the step of the request it served. Milliseconds a request."""
    by_place: dict[str, float] = {}
    by_step: dict[str, float] = {}
    for stack, seconds in session.frame_records:
        frames = _frames(stack)
        names = [name for name, _ in frames]
        leaf, leaf_path = frames[-1]
        if leaf in {"[await]", "[out-of-context]"}:
            place = next((label for marker, label in AWAITS if marker in names), "await: other")
        elif leaf == "lock.acquire" and "CurrentThreadExecutor.run_until_future" in names:
            place = "blocked: the thread waits while the view runs on the loop"
        elif leaf_path == "<built-in>":
            place = f"C: {leaf[:40]}"
        else:
            place = _package(leaf_path, leaf)
        by_place[place] = by_place.get(place, 0.0) + seconds
        step = next((STEPS[name] for name in reversed(names) if name in STEPS), "everything else")
        by_step[step] = by_step.get(step, 0.0) + seconds
    lines = [f"{'where (innermost frame)':60}{'ms/request':>12}"]
    for name, seconds in sorted(by_place.items(), key=lambda item: -item[1])[:24]:
        lines.append(f"{name:60}{1000 * seconds / requests:12.2f}")
    lines.append(f"\n{'for which step':60}{'ms/request':>12}")
    for name, seconds in sorted(by_step.items(), key=lambda item: -item[1]):
        lines.append(f"{name:60}{1000 * seconds / requests:12.2f}")
    return "\n".join(lines) + "\n\n"


def _package(path: str, function: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0]
    if str(bench.REPO) in path and ".venv" not in path:
        return "project: " + Path(path).relative_to(bench.REPO).parts[0]
    return "stdlib: " + Path(path).stem if path else function


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--api-key", action="store_true", help="authenticate with the API key (default: the JWT)")
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--pg-database", default="bench_gateway_profile")
    parser.add_argument("--dump", type=Path, help="also write the combined sessions (pyinstrument JSON) here")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port, args.output, args.warmup, args.dump)
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="chatgateway-profile-"))
    output = workdir / "profile.txt"
    with contextlib.ExitStack() as stack:
        upstream_url = stack.enter_context(bench.upstream("fast", workdir))
        database_url = stack.enter_context(bench.database(args.database, workdir, args.pg_server, args.pg_database))
        port = bench.free_port()
        env = bench.gateway_env(
            database_url=database_url, upstream_url=upstream_url, port=port, workers=1, workdir=workdir
        )
        bench.manage(env, "migrate", "--noinput")
        bench.manage(env, "collectstatic", "--noinput", "--verbosity", "0")
        credentials = bench.make_user(env)
        command = [
            bench.PYTHON,
            __file__,
            "--serve",
            "--port",
            str(port),
            "--output",
            str(output),
            "--warmup",
            str(args.warmup),
        ] + (["--dump", str(args.dump.resolve())] if args.dump else [])
        server = stack.enter_context(bench.running(command, env=env, log=workdir / "gateway.log"))
        bench.wait_for(f"http://127.0.0.1:{port}/healthz", server, "the profiled gateway")
        target = bench.make_target("gateway", port, credentials["api_key" if args.api_key else "jwt"], bench.Plan())
        result = asyncio.run(bench.sequential(target, args.requests, args.warmup))
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_bench/stop", timeout=10).close()
        server.wait(timeout=120)
        report = output.read_text()
    shutil.rmtree(workdir, ignore_errors=True)
    credential = "API key" if args.api_key else "JWT"
    print(
        f"{args.requests} sequential requests ({credential}, {args.database}), as the client saw them: "
        f"p50 {result['p50_ms']:.2f} ms, mean {result['mean_ms']:.2f} ms (profiled, so slower than unprofiled)\n"
    )
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
