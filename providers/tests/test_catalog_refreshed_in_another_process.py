"""A change saved here reaches another server process's cached catalog within its refresh period, without
that process serving anything or being told: its poller reads the catalog's version."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.db import connection

from devtools.testing import GatewayServer
from providers.models import Deployment, Model, Provider
from providers.tests.helpers import ENCRYPTION_KEY

WATCH = """
import time
from providers import catalog
last = None
for _ in range(3000):
    snapshot = catalog.current()
    line = f"{snapshot.version} {'implicit' if snapshot.implicit else 'configured'} {','.join(sorted(snapshot.models))}"
    if line != last:
        print(line, flush=True)
        last = line
    time.sleep(0.02)
"""


def database_url() -> str:
    if connection.vendor == "sqlite":
        return f"sqlite:///{connection.settings_dict['NAME']}"
    return GatewayServer._pg_url(connection.settings_dict["NAME"])


class Watcher:
    """`manage.py shell` in a process of its own, printing its catalog each time it changes."""

    def __init__(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CHATGATEWAY_KEY_ENCRYPTION_KEYS": ENCRYPTION_KEY,
            "CHATGATEWAY_PROVIDERS_REFRESH_SECONDS": "0.2",
            "CHATGATEWAY_MODELS": "implicit-model",
            "CHATGATEWAY_MODEL": "implicit-model",
            "LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "--verbosity", "0", "--command", WATCH],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def wait_for(self, predicate, seconds: float = 20.0) -> str:
        deadline = time.monotonic() + seconds
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            seen.append(line)
            if predicate(line):
                return line
        raise AssertionError(f"the other process never showed it; it printed {seen}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_save_reaches_the_catalog_of_another_process():
    watcher = Watcher()
    try:
        watcher.wait_for(lambda line: line.endswith("implicit implicit-model"))

        local = Provider.objects.create(name="local", base_url="http://127.0.0.1:9/v1")
        smart = Model.objects.create(name="smart")
        Deployment.objects.create(model=smart, provider=local, upstream_model="qwen")
        saved = time.monotonic()
        watcher.wait_for(lambda line: line.endswith("configured smart"))
        assert time.monotonic() - saved < 10

        Model.objects.create(name="fast").deployments.create(provider=local, upstream_model="qwen-small")
        watcher.wait_for(lambda line: line.endswith("configured fast,smart"))

        smart.enabled = False
        smart.save()
        watcher.wait_for(lambda line: line.endswith("configured fast"))
    finally:
        watcher.stop()
