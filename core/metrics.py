"""What operators watch: Prometheus metrics of every request, relay attempt, quota refusal, stream and
database thread, served by `GET /metrics` (chatgateway/metrics.py). docs/metrics.md lists them, with
their labels and why each label is bounded.

Under `serve` and `rungateway` the counts live in prometheus-client's multi-process mode: each uvicorn
worker writes its own files in PROMETHEUS_MULTIPROC_DIR (a fresh directory made before the workers start,
`use_fresh_directory`), and a scrape, answered by any worker, adds them all up. The library picks its mode
when it is first imported, so nothing here imports it before the command has chosen: the metrics are made
by `_made()` on first use, in the worker.

Labels take bounded values only: the API family and Django's route pattern (not the path), the status
class, the kind of credential, a model only if the gateway offers it (else "other"), a reason code from a
fixed set. Never a user, a key, a path or a request id.

The hot path is `ObserveRequests` (an ASGI middleware: every request, both lanes, streams to their end)
and `NoteRoute` (a Django middleware on both lanes: the route and the credential, which only Django
knows); each request costs a few dictionary reads and three or four writes to the worker's memory-mapped
files. `CHATGATEWAY_METRICS=0` leaves both out (settings, chatgateway/asgi.py).
"""

from __future__ import annotations

import contextvars
import functools
import os
import re
import shutil
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.deprecation import MiddlewareMixin
from django.utils.functional import SimpleLazyObject, empty

from core.apis import api_for
from core.money import NANOS

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

# Seconds. A relay answers in a few seconds; a stream may last minutes: the last buckets catch those.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TTFB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

# The provider label of an attempt no configured provider answered (and of the implicit one): "default".
# Routing fills `provider` from the usage record's fields (relay/services.py).
DEFAULT_PROVIDER = "default"
NONE = "none"
OTHER = "other"
_REASON = re.compile(r"(upstream_[a-z_]+?|client_disconnected)(?:_(\d)\d\d)?")


class _Request:
    """What is known of a request by its end: set by the route's middleware and by the relay."""

    __slots__ = ("credential", "endpoint", "model", "provider")

    def __init__(self) -> None:
        self.endpoint = NONE  # Django's route pattern, e.g. "v1/chat/completions"; none for a 404
        self.credential = NONE  # jwt, api_key, session or none
        self.model = NONE
        self.provider = NONE


_request: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("metrics_request", default=None)


def enabled() -> bool:
    return settings.CHATGATEWAY_METRICS


# --- The metrics ----------------------------------------------------------------------------------


_made_lock = threading.Lock()
_metrics: dict[str, Any] = {}


def _made() -> dict[str, Any]:
    """The metrics, made on first use (after the command chose the library's mode). The event loop and the
    database threads may ask first at the same moment: a metric made twice would be refused by the registry."""
    if not _metrics:
        with _made_lock:
            if not _metrics:
                _metrics.update(_make())
    return _metrics


def _make() -> dict[str, Any]:
    from prometheus_client import Counter, Gauge, Histogram

    return {
        "requests": Counter(
            "chatgateway_requests",
            "HTTP requests answered.",
            ["family", "endpoint", "model", "provider", "status", "credential"],
        ),
        "duration": Histogram(
            "chatgateway_request_duration_seconds",
            "From the request's arrival to its response's last byte.",
            ["family"],
            buckets=LATENCY_BUCKETS,
        ),
        "ttfb": Histogram(
            "chatgateway_time_to_first_byte_seconds",
            "From the request's arrival to its response's first body byte.",
            ["family"],
            buckets=TTFB_BUCKETS,
        ),
        "tokens": Counter("chatgateway_tokens", "Tokens of relayed requests.", ["model", "provider", "kind"]),
        "cost": Counter(
            "chatgateway_cost",
            "What relayed requests cost, in units of the currency, at the prices in force.",
            ["model", "provider", "currency"],
        ),
        "failures": Counter(
            "chatgateway_upstream_failures",
            "Relay attempts that failed, by the relay's reason code.",
            ["provider", "reason"],
        ),
        "refusals": Counter("chatgateway_quota_refusals", "Requests refused by a limit.", ["kind"]),
        "streams": Gauge("chatgateway_streams_open", "Event streams open now.", multiprocess_mode="livesum"),
        "db_busy": Gauge(
            "chatgateway_database_threads_busy",
            "Database threads running a step now (DATABASE_THREADS per process).",
            multiprocess_mode="livesum",
        ),
    }


@functools.cache
def _child(metric: str, *values: str) -> Any:
    """A labelled child, resolved once per set of values (they are bounded) instead of on every request."""
    return _made()[metric].labels(*values)


def model_label(name: str | None) -> str:
    """`name` if the gateway offers that model, else "other" (a client's made-up names stay out)."""
    if not name:
        return NONE
    return name if name in settings.CHATGATEWAY_MODELS else OTHER


def reason_label(reason: str) -> str:
    """The relay's reason code with its status's digits folded (`upstream_http_503` → `upstream_http_5xx`)."""
    matched = _REASON.fullmatch(reason)
    if matched is None:
        return OTHER
    return f"{matched[1]}_{matched[2]}xx" if matched[2] else matched[1]


# --- What the apps report -------------------------------------------------------------------------


def relay_attempt_ended(
    *, model: str, offered: bool = False, provider: str = DEFAULT_PROVIDER, prompt_tokens: int,
    completion_tokens: int, error: str, cost_nanos: int = 0, currency: str = "",
) -> None:  # fmt: skip
    """A relay attempt ended (relay.services.RelayAttempt, when it is recorded): its tokens, its cost (in
    nanos of `currency`, the one setting: a bounded label), its failure.
    `offered`: the relay knows the model is one the gateway offers (its catalog, which core can't read)."""
    if not enabled():
        return
    label = model if offered and model else model_label(model)
    state = _request.get()
    if state is not None:
        state.model = label
        state.provider = provider
    if prompt_tokens:
        _child("tokens", label, provider, "prompt").inc(prompt_tokens)
    if completion_tokens:
        _child("tokens", label, provider, "completion").inc(completion_tokens)
    if cost_nanos:
        _child("cost", label, provider, currency).inc(cost_nanos / NANOS)
    if error:
        _child("failures", provider, reason_label(error)).inc()


def quota_refused(kind: str) -> None:
    """A limit refused a request: `requests`, `tokens`, `cost` (a budget in money), or `blocked` (a limit of 0)."""
    if enabled():
        _child("refusals", kind if kind in {"requests", "tokens", "cost", "blocked"} else OTHER).inc()


class database_step:  # a class used as `with database_step():`
    """Counts a database thread busy while the block runs."""

    __slots__ = ("gauge",)

    def __enter__(self) -> None:
        self.gauge = _made()["db_busy"] if enabled() else None
        if self.gauge is not None:
            self.gauge.inc()

    def __exit__(self, *exc_info: object) -> None:
        if self.gauge is not None:
            self.gauge.dec()


# --- The middleware -------------------------------------------------------------------------------


class ObserveRequests:
    """ASGI middleware around both lanes: each request's count, duration, time to first byte, and the
    streams open."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        state = _Request()
        token = _request.set(state)
        family = api_for(scope["path"]).name
        status = 0
        first_byte: float | None = None
        stream = False

        async def observed_send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, first_byte, stream
            if message["type"] == "http.response.start":
                status = message["status"]
                stream = any(name.lower() == b"content-type" and value.startswith(b"text/event-stream")
                             for name, value in message.get("headers", ()))  # fmt: skip
                if stream:
                    _made()["streams"].inc()
            elif first_byte is None and message.get("body"):
                first_byte = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            _request.reset(token)
            if stream:
                _made()["streams"].dec()
            ended = time.perf_counter()
            status_class = f"{status // 100}xx" if status else "none"  # none: the client left before an answer
            labels = (family, state.endpoint, state.model, state.provider, status_class, state.credential)
            _child("requests", *labels).inc()
            _child("duration", family).observe(ended - started)
            if first_byte is not None:
                _child("ttfb", family).observe(first_byte - started)


class NoteRoute(MiddlewareMixin):
    """Django middleware, on both lanes: the request's route pattern and the kind of credential it was
    served with, for `ObserveRequests`' labels. Reads only what the request already holds: no query."""

    def process_response(self, request: Any, response: Any) -> Any:
        state = _request.get()
        if state is not None:
            match = getattr(request, "resolver_match", None)
            state.endpoint = _route(match.route) if match is not None and match.route else NONE
            state.credential = credential_kind(request)
        return response


@functools.cache
def _route(pattern: str) -> str:
    """A route as a label: a regular expression's anchors and optional slash left out."""
    return pattern.removeprefix("^").removesuffix("$").replace("/?", "/")


def credential_kind(request: Any) -> str:
    """`api_key`, `jwt`, `session` or `none`: what DRF (or Django's session) authenticated the request with."""
    from rest_framework_simplejwt.tokens import Token

    auth = request.__dict__.get("auth")
    if auth is not None:
        return "jwt" if isinstance(auth, Token) else "api_key"  # APIKeyAuthentication gives the key
    user = request.__dict__.get("user")
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return NONE  # nobody asked who it was: nothing authenticated it (and asking could cost a query)
    return "session" if user.is_authenticated else NONE


# --- The directory of multi-process mode ------------------------------------------------------------


def use_fresh_directory(path: str | None, *, port: int) -> str:
    """Make (or empty) the directory the worker processes share for their counts and point
    PROMETHEUS_MULTIPROC_DIR at it; before the workers start, so that no count of a past run is added in.
    `path`: CHATGATEWAY_METRICS_DIR, else `chatgateway-metrics-<port>` in the system's temporary directory
    (one per server on the host, emptied again at its next start rather than left behind)."""
    import tempfile

    directory = Path(path) if path else Path(tempfile.gettempdir()) / f"chatgateway-metrics-{port}"
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return str(directory)


def forget_dead_processes(directory: str, alive: Callable[[int], bool]) -> None:
    """A worker that died (killed, restarted by uvicorn) leaves its live gauges' files: its open streams
    and busy threads would count forever. The library's `mark_process_dead` removes them; counters and
    histograms stay, as their totals should."""
    from prometheus_client import multiprocess

    pids = set()
    for name in os.listdir(directory):
        if name.startswith("gauge_live") and name.endswith(".db"):
            pid = name.rsplit("_", 1)[-1][: -len(".db")]
            if pid.isdigit():
                pids.add(int(pid))
    for pid in pids:
        if pid != os.getpid() and not alive(pid):
            multiprocess.mark_process_dead(pid, directory)
