"""Running the real gateway for tests that need several server processes (uvicorn workers).

`GatewayServer` gives the server a database of its own (a SQLite file, or a fresh PostgreSQL
database on the server the suite runs against), migrates it, and serves it on a free port.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import requests
import uvicorn
from django.conf import settings
from django.db import connection

SECRET = "live-server-test-secret-0123456789abcdef"  # noqa: S105  (a throwaway key for a test server)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(base_url: str, *, process: subprocess.Popen | None = None, seconds: float = 60) -> None:
    """Wait until `base_url`/healthz answers 200; fail early if `process` exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("the gateway server exited during start-up")
        try:
            if requests.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or still starting its workers on a busy machine
        time.sleep(0.1)
    raise RuntimeError(f"the gateway server at {base_url} did not start within {seconds:.0f} s")


class InProcessGateway:
    """The gateway's ASGI application served by uvicorn in a thread of the test process.

    It shares the test's database and settings, so a test makes users and keys with the ORM and
    then talks to a real server: real HTTP, async views, streaming, client disconnects. Tests that
    use it need `transactional_db` (the server's connections see only committed rows).
    """

    def __init__(self, app: Any = "chatgateway.asgi:application") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", proxy_headers=False
        )  # the application applies the proxy headers itself (chatgateway/asgi.py)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="gateway", daemon=True)

    def __enter__(self) -> InProcessGateway:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the in-process gateway did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)


class GatewayServer:
    def __init__(
        self, *, tmp_path: Path, upstream_url: str, upstream_key: str, workers: int = 3,
        database_url: str | None = None, env: dict[str, str] | None = None, serve: bool = False,
        log: Path | None = None,
    ) -> None:  # fmt: skip
        """`database_url`: a database of the caller's (else one of its own); `env`: more settings; `serve`:
        run `manage.py serve`, the production server, instead of uvicorn's command; `log`: its output there."""
        self.workers = workers
        self.serve = serve
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._pg_database: str | None = None
        if database_url is None and connection.vendor == "postgresql":
            self._pg_database = f"chatgateway_live_{uuid.uuid4().hex[:10]}"
            database_url = self._pg_url(self._pg_database)
        elif database_url is None:
            database_url = f"sqlite:///{tmp_path / 'gateway.sqlite3'}"
        self.env = {
            **os.environ,
            "CHATGATEWAY_OUTBOX_DIR": str(tmp_path / "outbox"),
            "DATABASE_URL": database_url,
            "DEBUG": "0",
            "DJANGO_SECRET_KEY": SECRET,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "OPENAI_API_KEY": upstream_key,
            "OPENAI_BASE_URL": upstream_url,
            "OPENAI_MAX_RETRIES": "0",
            "LOG_LEVEL": "WARNING",
            # The workers' metrics (core/metrics.py): `serve` empties this directory; uvicorn's command is given it.
            "CHATGATEWAY_METRICS_DIR": str(tmp_path / "metrics"),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
            **(env or {}),
        }
        (tmp_path / "metrics").mkdir(exist_ok=True)
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> GatewayServer:
        if self._pg_database:
            self._admin_sql(f'CREATE DATABASE "{self._pg_database}"')
        self.manage("migrate", "--noinput", "-v0")
        if self.serve:
            command = [sys.executable, "manage.py", "serve"]
            env = {**self.env, "HOST": "127.0.0.1", "PORT": str(self.port), "WEB_CONCURRENCY": str(self.workers)}
        else:
            command = [
                sys.executable, "-m", "uvicorn", "chatgateway.asgi:application",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", str(self.workers), "--log-level", "warning", "--no-proxy-headers",
            ]  # fmt: skip
            env = self.env
        output = self.log.open("w") if self.log else None
        self._process = subprocess.Popen(  # noqa: S603
            command, cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT if output else None
        )
        if output:
            output.close()  # the server holds its own copy
        wait_until_healthy(self.url, process=self._process)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process:
            self._process.terminate()
            self._process.wait(timeout=30)
        if self._pg_database:
            self._admin_sql(f'DROP DATABASE IF EXISTS "{self._pg_database}" WITH (FORCE)')

    def kill(self) -> None:
        """SIGKILL the server (a crash: no shutdown code runs), and wait until it is gone."""
        if self._process:
            self._process.kill()
            self._process.wait(timeout=30)

    @contextlib.contextmanager
    def another_process(self, env: dict[str, str] | None = None) -> Iterator[str]:
        """A second server process (one worker) on this server's database and settings (`env`: more);
        its URL."""
        port = free_port()
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "uvicorn", "chatgateway.asgi:application", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", "--no-proxy-headers"],
            cwd=settings.BASE_DIR, env={**self.env, **(env or {})},
        )  # fmt: skip
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}", process=process)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=30)

    def manage(self, *args: str) -> str:
        """Run a management command against this server's database; its standard output."""
        result = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def python(self, code: str) -> str:
        """Run Python with Django set up for this server (same secret, same database)."""
        return self.manage("shell", "--verbosity", "0", "--command", code)

    @staticmethod
    def _pg_url(database: str) -> str:
        db = settings.DATABASES["default"]
        user = db.get("USER") or "postgres"
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{database}"

    def _admin_sql(self, sql: str) -> None:
        url = self._pg_url("postgres").replace("postgres://", "postgresql://", 1)
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql)
