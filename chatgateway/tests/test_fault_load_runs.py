"""The load run with faults still holds: `bench/fault_load.py --quick` (80 requests from 10 clients, a
share failed by the upstream, the database restarted once) with every one of its checks."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from chatgateway.pgcluster import postgres_binaries


@pytest.mark.skipif(postgres_binaries() is None, reason="needs PostgreSQL's initdb and pg_ctl")
def test_the_quick_fault_load_ends_with_exact_counts_and_nothing_held():
    if connection.vendor != "sqlite":
        pytest.skip("it brings its own PostgreSQL: once per CI run, with the SQLite suite")

    result = subprocess.run(
        [sys.executable, "bench/fault_load.py", "--quick"],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "FAIL" not in result.stdout
    assert result.stdout.count("PASS") == 7
    assert "quota used = successful relays = records (exact)" in result.stdout
