"""`GET /metrics`: the counts of every worker process in Prometheus' text format (core/metrics.py, docs/metrics.md).

Who may scrape is set by CHATGATEWAY_METRICS_TOKEN (`Authorization: Bearer …`) and/or
CHATGATEWAY_METRICS_ALLOWED_IPS (the client's address, after the proxy headers of FORWARDED_ALLOW_IPS):
each one set must be met. With neither set the endpoint does not exist (404): numbers about traffic
and users are not for everyone, and an operator who has not chosen who may read them has chosen nobody.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from core import processes
from core.metrics import forget_dead_processes
from relay import outbox


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The metrics of every worker process, with the outbox's backlog as it stands on disk."""
    token, networks = settings.CHATGATEWAY_METRICS_TOKEN, settings.CHATGATEWAY_METRICS_ALLOWED_IPS
    if not settings.CHATGATEWAY_METRICS or not (token or networks):
        raise Http404
    if networks and not _address_allowed(request.META.get("REMOTE_ADDR", ""), networks):
        return HttpResponse("Not an address allowed to read the metrics.\n", status=403, content_type="text/plain")
    given = request.headers.get("Authorization", "")
    if token and not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse(
            "A bearer token is needed to read the metrics.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        forget_dead_processes(directory, processes.is_running)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:  # one process (tests, a plain `uvicorn` without the directory): its own counts
        registry = REGISTRY
    return HttpResponse(generate_latest(registry) + _outbox(), content_type=CONTENT_TYPE_LATEST)


def _address_allowed(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in networks)


def _outbox() -> bytes:
    """The outbox's entries waiting for the database and set aside for good (relay/outbox.py), read from
    its directory, which every process of the host shares."""
    return (
        "# HELP chatgateway_outbox_entries Relay results waiting in the outbox for the database (pending), "
        "or set aside for good (rejected).\n"
        "# TYPE chatgateway_outbox_entries gauge\n"
        f'chatgateway_outbox_entries{{state="pending"}} {outbox.pending_count()}\n'
        f'chatgateway_outbox_entries{{state="rejected"}} {outbox.rejected_count()}\n'
    ).encode()
