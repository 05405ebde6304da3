from __future__ import annotations

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the gateway in production (`make serve`): uvicorn worker processes, DEBUG off."

    def handle(self, *args, **options) -> None:
        if settings.DEBUG:
            raise CommandError("`serve` is the production server: set DEBUG=0 (and DJANGO_SECRET_KEY, ALLOWED_HOSTS).")
        self.stdout.write(
            f"Serving the gateway on http://{settings.RUN_HOST}:{settings.RUN_PORT}/ "
            f"with {settings.WEB_WORKERS} worker process(es)"
        )
        uvicorn.run(
            "chatgateway.asgi:application",
            host=settings.RUN_HOST,
            port=settings.RUN_PORT,
            workers=settings.WEB_WORKERS,
            lifespan="off",
            access_log=settings.ACCESS_LOG,
            # Behind a proxy, trust its X-Forwarded-For/-Proto from these addresses only.
            proxy_headers=True,
            forwarded_allow_ips=settings.FORWARDED_ALLOW_IPS,
            timeout_keep_alive=settings.KEEP_ALIVE_SECONDS,
            log_level=settings.LOG_LEVEL.lower(),
        )
