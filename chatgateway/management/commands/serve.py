from __future__ import annotations

import socket

import uvicorn
import uvicorn.config
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from core.metrics import use_fresh_directory


class Command(BaseCommand):
    help = "Serve the gateway in production (`make serve`): uvicorn worker processes, DEBUG off."

    def handle(self, *args, **options) -> None:
        if settings.DEBUG:
            raise CommandError("`serve` is the production server: set DEBUG=0 (and DJANGO_SECRET_KEY, ALLOWED_HOSTS).")
        if settings.CHATGATEWAY_PROVIDERS_FILE:  # after `make serve`'s migrate; a wrong file stops the start
            call_command("sync_providers", settings.CHATGATEWAY_PROVIDERS_FILE, stdout=self.stdout)
        self.stdout.write(
            f"Serving the gateway on http://{settings.RUN_HOST}:{settings.RUN_PORT}/ "
            f"with {settings.WEB_WORKERS} worker process(es)"
        )
        uvicorn.config.Config.bind_socket = _bind_socket_without_nagle
        if settings.CHATGATEWAY_METRICS:  # every worker counts into one fresh directory (core/metrics.py)
            use_fresh_directory(settings.CHATGATEWAY_METRICS_DIR, port=settings.RUN_PORT)
        uvicorn.run(
            "chatgateway.asgi:application",
            host=settings.RUN_HOST,
            port=settings.RUN_PORT,
            workers=settings.WEB_WORKERS,
            lifespan="off",
            access_log=settings.ACCESS_LOG,
            # Behind a proxy, its X-Forwarded-For/-Proto are believed from FORWARDED_ALLOW_IPS only: by the
            # application itself (chatgateway/asgi.py), after it has seen which peer sent the X-Request-ID.
            proxy_headers=False,
            timeout_keep_alive=settings.KEEP_ALIVE_SECONDS,
            log_level=settings.LOG_LEVEL.lower(),
        )


_uvicorn_bind_socket = uvicorn.config.Config.bind_socket


def _bind_socket_without_nagle(self: uvicorn.config.Config) -> socket.socket:
    """uvicorn's listening socket, with TCP_NODELAY, which Linux passes on to every accepted connection.

    With several workers uvicorn binds the socket itself with `proto` 0, and asyncio turns Nagle's
    algorithm off only on sockets whose `proto` is IPPROTO_TCP; a response then goes out as two writes
    and, on a kept-alive connection, its body waits about 40 ms for the client's delayed ACK
    (https://github.com/Kludex/uvicorn/issues/3149). Measured by bench/run.py: docs/performance.md.
    """
    sock = _uvicorn_bind_socket(self)
    if sock.family in {socket.AF_INET, socket.AF_INET6}:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
