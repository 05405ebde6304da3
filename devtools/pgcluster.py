"""A PostgreSQL server of its own, for tests and benchmarks that stop and restart the database.

`PrivatePostgres` runs `initdb` in a temporary directory and serves it on a free port of 127.0.0.1
(trust authentication, user `postgres`), so that stopping it disturbs no one else's database. As
root, the server runs as the `postgres` user (`runuser`), since PostgreSQL refuses to run as root.
The binaries are found in PG_BIN, on PATH, or in /usr/lib/postgresql/<newest>/bin (Debian).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from devtools.testing import free_port


def postgres_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    candidates = [os.environ.get("PG_BIN", "")]
    if found := shutil.which("pg_ctl"):
        candidates.append(str(Path(found).parent))
    candidates += sorted((str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")), reverse=True)
    return next((Path(c) for c in candidates if c and (Path(c) / "initdb").exists()), None)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster: `with PrivatePostgres() as pg:`, then `pg.stop()`, `pg.start()`."""

    def __init__(self) -> None:
        binaries = postgres_binaries()
        if binaries is None:
            raise RuntimeError("PostgreSQL's initdb and pg_ctl were not found (set PG_BIN)")
        self.bin = binaries
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="chatgateway-pg-"))
        self.data = self.workdir / "data"
        self._as_postgres = os.geteuid() == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def __enter__(self) -> PrivatePostgres:
        if self._as_postgres:
            shutil.chown(self.workdir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def start(self) -> None:
        """Start (again) on the same port; returns once it accepts connections."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.workdir} -c fsync=off -c max_connections=200"
        self._run(
            "pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data), "-l", str(self.workdir / "log"), "-o", options
        )

    def stop(self) -> None:
        """Stop at once: open sessions are cut, as when the database server goes away."""
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603
