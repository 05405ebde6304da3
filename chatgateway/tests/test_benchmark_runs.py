"""The benchmarks still run: tiny versions of `bench/run.py` (no thresholds) and of `bench/fault_load.py`
(with every one of its checks), so that they cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from devtools.pgcluster import postgres_binaries


def run_quick(script: str) -> subprocess.CompletedProcess:
    if connection.vendor != "sqlite":
        pytest.skip("the quick benchmarks run once per CI run, with the SQLite suite")
    return subprocess.run(
        [sys.executable, script, "--quick"],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_the_quick_benchmark_runs_and_prints_its_table():
    result = run_quick("bench/run.py")

    assert result.returncode == 0, result.stderr[-2000:]
    for section in ("1. Added latency", "2. Throughput", "3. Held streams"):
        assert section in result.stdout
    assert "gateway, API key" in result.stdout


@pytest.mark.skipif(
    postgres_binaries() is None and os.environ.get("CI") != "true",  # in CI, a missing PostgreSQL fails
    reason="needs PostgreSQL's initdb and pg_ctl",
)
def test_the_quick_fault_load_ends_with_exact_counts_and_nothing_held():
    """80 requests from 10 clients, a share failed by the upstream, the database restarted once, a worker
    killed with SIGKILL, a user deleted with requests in flight."""
    result = run_quick("bench/fault_load.py")

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "FAIL" not in result.stdout
    assert result.stdout.count("PASS") == 11
    assert "quota used = records (exact), between the relays seen and those plus the cut ones" in result.stdout
    assert "no reservation left held" in result.stdout
