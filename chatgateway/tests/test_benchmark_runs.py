"""The benchmark still runs: a tiny version of `bench/run.py`, with no thresholds, so that it cannot rot."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection


def test_the_quick_benchmark_runs_and_prints_its_table():
    if connection.vendor != "sqlite":
        pytest.skip("the quick benchmark runs once per CI run, with the SQLite suite")

    result = subprocess.run(
        [sys.executable, "bench/run.py", "--quick"],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-2000:]
    for section in ("1. Added latency", "2. Throughput", "3. Held streams"):
        assert section in result.stdout
    assert "gateway, API key" in result.stdout
