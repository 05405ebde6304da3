from __future__ import annotations

import atexit
import socket
import subprocess
import sys
import time

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from core.metrics import use_fresh_directory

BANNER = """
  ============================================================================
  No OPENAI_API_KEY is set: answers come from the bundled DEVELOPMENT UPSTREAM
  on {url}. They are canned echoes, NOT from a real model.
  Set OPENAI_API_KEY (and OPENAI_BASE_URL for non-OpenAI services) to use one.
  ============================================================================
"""


class Command(BaseCommand):
    help = "Serve the gateway for development (`make run`), with the development upstream if no OPENAI_API_KEY."

    # uvicorn, not runserver: the relay's async views and streams behave as in production only
    # under an ASGI server (Django's WSGI runserver would collect a whole stream before sending it).

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", help="default: HOST:PORT from the environment (127.0.0.1:8000)")
        parser.add_argument("--noreload", action="store_true", help="do not restart on code changes")

    def handle(self, *args, addrport: str | None, noreload: bool, **options) -> None:
        host, _, port = (addrport or f"{settings.RUN_HOST}:{settings.RUN_PORT}").rpartition(":")
        if not port.isdigit():
            raise CommandError(f"{addrport!r} is not HOST:PORT.")
        if settings.CHATGATEWAY_PROVIDERS_FILE:  # after `make run`'s migrate; a wrong file stops the start
            call_command("sync_providers", settings.CHATGATEWAY_PROVIDERS_FILE, stdout=self.stdout)
        # uvicorn's reloader serves from a child process and restarts it on code changes; this
        # process, the parent, owns the development upstream.
        if settings.USE_DEV_UPSTREAM:
            self._start_dev_upstream()
        self.stdout.write(f"Serving the gateway on http://{host or settings.RUN_HOST}:{port}/ (Ctrl-C to stop)")
        if settings.CHATGATEWAY_METRICS:  # the reloader's server process counts here (core/metrics.py)
            use_fresh_directory(settings.CHATGATEWAY_METRICS_DIR, port=int(port))
        uvicorn.run(
            "chatgateway.asgi:application",
            host=host or settings.RUN_HOST,
            port=int(port),
            reload=not noreload,
            reload_dirs=source_dirs(),
            lifespan="off",
            proxy_headers=False,  # applied by the application itself (chatgateway/asgi.py)
        )

    def _start_dev_upstream(self) -> None:
        port = settings.DEV_UPSTREAM_PORT
        if _listening(port):
            raise CommandError(
                f"Port {port} (DEV_UPSTREAM_PORT) is taken, so the development upstream cannot start there. "
                "Stop what runs on it, or set DEV_UPSTREAM_PORT to a free port."
            )
        process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
            [
                sys.executable,
                "-m",
                "devtools.devupstream",
                "--port",
                str(port),
                "--key",
                settings.DEV_UPSTREAM_KEY,
                "--exit-with-parent",
            ],
            stdout=subprocess.DEVNULL,
        )
        atexit.register(process.terminate)
        for _ in range(100):
            if _listening(port):
                break
            time.sleep(0.05)
        self.stdout.write(self.style.WARNING(BANNER.format(url=settings.OPENAI_BASE_URL)))


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def source_dirs() -> list[str]:
    """The project's packages (its folders with an `__init__.py`), for the reloader to watch. Without
    watchfiles, uvicorn's reloader reads the time of every `.py` file under its folders four times a second:
    under the whole checkout, the virtualenv's too, which kept a core two-thirds busy."""
    return sorted(str(init.parent) for init in settings.BASE_DIR.glob("*/__init__.py"))
