"""What a relay could not write because the database failed after the upstream had answered.

The client has its answer (or its error) by then, and the quota's settlement (or refund) and the usage
record must still land. They are written at once to a spool file in CHATGATEWAY_OUTBOX_DIR, one JSON
file per relay, synced and renamed into place, so that a file is whole or absent and a crash or a
restart loses nothing. A thread of the process retries every CHATGATEWAY_OUTBOX_RETRY_SECONDS until
the database takes them; each file is applied in one transaction, then deleted. The server's shutdown
tries once more, and a restarted server applies what its predecessor left on its first request.
The usage record keeps the time of the request, not of its late writing.

Several server processes share the directory: a process claims a file by renaming it (atomic), so
one file is applied once. A process that dies holding a claim leaves it to the next flush.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.signals import request_started
from django.db import DatabaseError, connection, transaction

from quota.services import Reservation, refund_request, settle_request
from relay.models import UsageRecord

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_flusher: threading.Thread | None = None


def settlement(*, reservation: Reservation, tokens: int | None) -> dict[str, Any]:
    """A quota write to defer: the request counts with `tokens`, or (None) is refunded."""
    return {
        "user_id": reservation.user_id,
        "day": reservation.day.isoformat(),
        "token_budget": reservation.token_budget,
        "tokens": tokens,
    }


def defer(*, quota: dict[str, Any] | None, record: dict[str, Any] | None) -> None:
    """Keep what the database refused, durably, until it takes it; never raises."""
    entry = {"quota": quota, "record": record and {**record, "created": record["created"].isoformat()}}
    directory = Path(settings.CHATGATEWAY_OUTBOX_DIR)
    name = f"{time.time_ns()}-{uuid.uuid4().hex}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        draft = directory / f".{name}.draft"
        with open(draft, "w") as file:
            json.dump(entry, file)
            file.flush()
            os.fsync(file.fileno())
        draft.rename(directory / name)
    except OSError as exc:
        logger.error(
            "usage record lost (user %s): the database and the outbox failed (%s)", _user(entry), type(exc).__name__
        )
        return
    logger.warning("database unavailable: the end of a relay (user %s) is kept in the outbox", _user(entry))
    start_flusher()


def flush() -> int:
    """Apply every deferred file the database takes now; how many were applied."""
    applied = 0
    for path in sorted(_pending()):
        claimed = path.with_name(f"{path.name}.{os.getpid()}.claim")
        try:
            path.rename(claimed)
        except FileNotFoundError:
            continue  # another process took it
        try:
            _apply(json.loads(claimed.read_text()))
        except DatabaseError:
            claimed.rename(path)
            break
        claimed.unlink()
        applied += 1
    if applied:
        logger.warning("outbox: %d deferred relay ends written to the database", applied)
    return applied


def pending_count() -> int:
    return len(_pending())


def start_flusher() -> None:
    """Retry in the background until the outbox is empty (one thread per process)."""
    global _flusher
    with _lock:
        if _flusher is None or not _flusher.is_alive():
            _flusher = threading.Thread(target=_retry_until_empty, name="relay-outbox", daemon=True)
            _flusher.start()


def _retry_until_empty() -> None:
    while True:
        time.sleep(settings.CHATGATEWAY_OUTBOX_RETRY_SECONDS)
        try:
            flush()
        except OSError:
            logger.error("outbox: its directory failed; retrying")
        finally:
            connection.close()  # this thread's own connection: none is held between tries
        if not _pending():
            return


def _pending() -> list[Path]:
    directory = Path(settings.CHATGATEWAY_OUTBOX_DIR)
    if not directory.is_dir():
        return []
    for claim in directory.glob("*.json.*.claim"):  # left by a process that has died
        pid = int(claim.name.rsplit(".", 2)[1])
        if not _alive(pid):
            with contextlib.suppress(FileNotFoundError):
                claim.rename(claim.with_name(claim.name.rsplit(".", 2)[0]))
    return list(directory.glob("*.json"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _apply(entry: dict[str, Any]) -> None:
    with transaction.atomic():
        if quota := entry["quota"]:
            reservation = Reservation(
                user_id=quota["user_id"],
                day=dt.date.fromisoformat(quota["day"]),
                token_budget=quota["token_budget"],
                allowance=None,  # only a live request's headers need it
            )
            if quota["tokens"] is None:
                refund_request(reservation=reservation)
            else:
                settle_request(reservation=reservation, tokens=quota["tokens"])
        if fields := entry["record"]:
            created = dt.datetime.fromisoformat(fields.pop("created"))
            record = UsageRecord.objects.create(**fields)
            UsageRecord.objects.filter(pk=record.pk).update(created=created)  # auto_now_add set it to now


def _user(entry: dict[str, Any]) -> Any:
    return (entry["quota"] or entry["record"] or {}).get("user_id")


def _flush_leftovers(**kwargs: Any) -> None:
    """On a process's first request: apply what a previous process left, in the background."""
    request_started.disconnect(_flush_leftovers)
    if _pending():
        start_flusher()


def _flush_at_exit() -> None:
    with contextlib.suppress(Exception):  # the database may still be gone: the files stay
        if _pending():
            flush()


request_started.connect(_flush_leftovers)
atexit.register(_flush_at_exit)
