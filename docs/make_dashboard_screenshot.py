"""Make docs/images/usage-dashboard.png: demo data in a throwaway database, the gateway, a headless browser.

    .venv/bin/python docs/make_dashboard_screenshot.py [--db /tmp/shot.sqlite3] [--port 8690] [--out PATH]

Needs Chromium (Debian: `apt-get install chromium`). The browser is driven over the DevTools protocol
on a pipe (`--remote-debugging-pipe`), so nothing beyond the standard library is needed: it is handed
the administrator's session cookie, opens the dashboard and saves the whole page. The demo database
starts afresh on each run and holds the demo users (`loaddata users`) and a few more, with 30 days of
made-up but plausible usage (weekdays busier than weekends, an upstream outage one day).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SEED = 4  # the same picture on every run

# Requests a weekday for each user; alice and bob come from the demo fixture.
USERS = {"bob": 34, "carol": 22, "grace": 15, "dave": 12, "alice": 9, "erin": 6, "frank": 3, "heidi": 2}
MODELS = {"gpt-4o-mini": 60, "gpt-4o": 24, "o3-mini": 11, "gpt-4.1-nano": 5}
ENDPOINTS = {"v1": 60, "chat": 25, "chatapi": 15}
FAILURES = [(502, "upstream_error"), (504, "upstream_timeout"), (499, "client_disconnected")]
OUTAGE_DAYS_AGO = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/tmp/shot.sqlite3")  # noqa: S108 (a throwaway database)
    parser.add_argument("--port", type=int, default=8690)
    parser.add_argument("--out", default=str(BASE_DIR / "docs" / "images" / "usage-dashboard.png"))
    args = parser.parse_args()

    for suffix in ("", "-wal", "-shm"):
        Path(args.db + suffix).unlink(missing_ok=True)
    os.environ.update(DATABASE_URL=f"sqlite:///{args.db}", DEBUG="1", DJANGO_SETTINGS_MODULE="chatgateway.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    session = make_demo_data()
    with gateway(args.port):
        url = f"http://127.0.0.1:{args.port}/admin/relay/usagerecord/dashboard/"
        png = screenshot(url, cookie=session)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_bytes(png)
    print(f"wrote {args.out} ({len(png):,} bytes)")


def make_demo_data() -> str:
    """Migrate, load the demo users, add usage; the administrator's session key."""
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User
    from relay.models import UsageRecord

    call_command("migrate", verbosity=0)
    call_command("loaddata", "users", verbosity=0)
    for name in USERS:
        User.objects.get_or_create(username=name)
    users = {user.username: user for user in User.objects.all()}
    # `created` is auto_now_add, which bulk_create would overwrite; the records here are from the past.
    UsageRecord._meta.get_field("created").auto_now_add = False
    UsageRecord.objects.bulk_create(made_up_usage(users), batch_size=1000)
    admin = User.objects.create_superuser("admin", password=None)
    client = Client()
    client.force_login(admin)
    return client.cookies["sessionid"].value


def made_up_usage(users: dict) -> list:
    from django.utils import timezone

    rng = random.Random(SEED)  # noqa: S311 (demo data, not secrets)
    now = timezone.localtime()
    records = []
    for days_ago in range(29, -1, -1):
        day = now.date() - dt.timedelta(days=days_ago)
        busy = (0.3 if day.weekday() >= 5 else 1.0) * (0.75 + 0.5 * (29 - days_ago) / 29)  # weekdays; growth
        failing = 0.2 if days_ago == OUTAGE_DAYS_AGO else 0.025
        for name, rate in USERS.items():
            for _ in range(round(rate * busy * rng.uniform(0.6, 1.4))):
                at = timezone.make_aware(dt.datetime.combine(day, dt.time(min(23, int(rng.gauss(14, 3.5)))))) + (
                    dt.timedelta(seconds=rng.randrange(3600))
                )
                if at <= now:
                    records.append(made_up_record(rng, users[name], at, failing))
    return records


def made_up_record(rng: random.Random, user, at: dt.datetime, failing: float):
    from django.utils import timezone

    from relay.models import UsageRecord

    endpoint = rng.choices(list(ENDPOINTS), weights=list(ENDPOINTS.values()))[0]
    stream = endpoint == "v1" and rng.random() < 0.7
    prompt, completion = int(rng.lognormvariate(5.8, 0.8)), int(rng.lognormvariate(5.3, 0.7))
    status, error = 200, ""
    if rng.random() < failing:
        status, error = rng.choices(FAILURES, weights=[5, 3, 1])[0]
        prompt, completion = (prompt, completion // 4) if status == 499 else (0, 0)
    latency = int(300 + completion * rng.uniform(8, 20))
    return UsageRecord(
        user=user, created=at, day=timezone.localdate(at), endpoint=endpoint, stream=stream, status_code=status,
        error=error,
        model=rng.choices(list(MODELS), weights=list(MODELS.values()))[0],
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion,
        estimated=status == 499, latency_ms=latency, ttfb_ms=int(latency * 0.15) if stream else None,
    )  # fmt: skip


@contextlib.contextmanager
def gateway(port: int) -> Iterator[None]:
    """The gateway under uvicorn on `port`, for the length of a `with` block."""
    command = [sys.executable, "-m", "uvicorn", "chatgateway.asgi:application", "--port", str(port)]
    server = subprocess.Popen(command, cwd=BASE_DIR, env=os.environ)  # noqa: S603
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the gateway did not start")
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def screenshot(url: str, *, cookie: str, width: int = 1400, height: int = 1100, whole: bool = True) -> bytes:
    """The page at `url` (`whole`: all of it, else the window), as the administrator with the session `cookie`."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        raise SystemExit("Chromium is missing: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile, DevTools(chromium, profile) as browser:
        browser.call("Storage.setCookies", cookies=[{"name": "sessionid", "value": cookie, "domain": "127.0.0.1",
                                                     "path": "/", "httpOnly": True}])  # fmt: skip
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        page = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        browser.call("Emulation.setDeviceMetricsOverride", session=page, **metrics)
        browser.call("Page.enable", session=page)
        browser.call("Page.navigate", session=page, url=url)
        browser.wait_for("Page.loadEventFired", session=page)
        if whole:
            content = browser.call("Page.getLayoutMetrics", session=page)["cssContentSize"]
            metrics["height"] = int(content["height"])
            browser.call("Emulation.setDeviceMetricsOverride", session=page, **metrics)
        shot = browser.call("Page.captureScreenshot", session=page, format="png")
    return base64.b64decode(shot["data"])


class DevTools:
    """Headless Chromium and its DevTools protocol: JSON messages ended by NUL, over fds 3 and 4."""

    def __init__(self, chromium: str, profile: str) -> None:
        self.chromium, self.profile, self.next_id, self.events = chromium, profile, 0, []

    def __enter__(self) -> DevTools:
        to_browser, self.commands = os.pipe()
        self.answers, from_browser = os.pipe()
        flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                 "--remote-debugging-pipe", f"--user-data-dir={self.profile}"]  # fmt: skip
        # The browser reads the protocol from its fd 3 and writes to its fd 4.
        shell = f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser} 2>/dev/null'
        self.process = subprocess.Popen(  # noqa: S603
            ["/bin/sh", "-c", shell, self.chromium, *flags], pass_fds=(to_browser, from_browser)
        )
        os.close(to_browser)
        os.close(from_browser)
        self.buffer = b""
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        os.close(self.commands)
        os.close(self.answers)

    def call(self, method: str, *, session: str | None = None, **params) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def wait_for(self, event: str, *, session: str | None = None, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.events:
                if message.get("method") == event and message.get("sessionId") == session:
                    self.events.remove(message)
                    return message
            self.events.append(self._read())
        raise TimeoutError(event)

    def _read(self) -> dict:
        while b"\0" not in self.buffer:
            chunk = os.read(self.answers, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)


if __name__ == "__main__":
    main()
