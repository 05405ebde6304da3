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

Only an outage (OperationalError, InterfaceError: the database is gone or unreachable) is kept for
later. An error that trying again cannot cure (an IntegrityError such as a record naming a user deleted
while their request was in flight, a DataError, an unreadable file) is not: the entry is written
without an API key that has since been deleted (as the key's deletion would have left it), or else set
aside under `rejected/` in the outbox's directory, with an error in the log and a warning on the usage
records' admin page. A flush never stops at such an entry; it stops at an outage.

Each entry has the id of its request's reservation (its quota lease), which its usage record keeps
(`UsageRecord.reservation_id`, unique), written in the same transaction as the quota's settlement: an
entry applied and not yet deleted when its process died is recognised when it is replayed, and skipped;
so is one whose request was meanwhile taken for lost and settled by another process (relay/lost.py),
whose record is the one that stands, as the quota's settlement does.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.signals import request_started
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

from core import processes
from quota.limits import Charge
from quota.services import Reservation, refund_request, settle_request
from relay.models import UsageRecord

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_flusher: threading.Thread | None = None


def settlement(*, reservation: Reservation, tokens: int | None, cost: int = 0) -> dict[str, Any]:
    """A quota write to defer: the request counts with `tokens` and `cost`, or (None) is refunded."""
    return {
        "user_id": reservation.user_id,
        "day": reservation.day.isoformat(),
        "token_budget": reservation.token_budget,
        "tokens": tokens,
        "cost": cost,
        "lease_id": reservation.lease_id and str(reservation.lease_id),
        "counts_request": reservation.counts_request,
        "charges": [charge.as_json() for charge in reservation.charges],
    }


REJECTED = "rejected"


def is_outage(error: DatabaseError) -> bool:
    """The database is gone or unreachable (worth trying again later), rather than refusing this write."""
    return isinstance(error, (OperationalError, InterfaceError))


def defer(*, quota: dict[str, Any] | None, record: dict[str, Any] | None) -> None:
    """Keep what the database refused, durably, until it takes it; never raises."""
    entry = _entry(quota=quota, record=record)
    directory = Path(settings.CHATGATEWAY_OUTBOX_DIR)
    try:
        _write(directory, f"{time.time_ns()}-{entry['id']}.json", entry)
    except OSError as exc:
        logger.error(
            "usage record lost (user %s): the database and the outbox failed (%s)", _user(entry), type(exc).__name__
        )
        return
    logger.warning("database unavailable: the end of a relay (user %s) is kept in the outbox", _user(entry))
    start_flusher()


def resolve(*, quota: dict[str, Any] | None, record: dict[str, Any] | None) -> None:
    """Write now what the database refused for a reason other than an outage (a relay's live write):
    without an API key deleted meanwhile, or set aside; kept in the outbox if the database goes now."""
    entry = _entry(quota=quota, record=record)
    try:
        _land(entry, name=f"{time.time_ns()}-{entry['id']}.json")
    except DatabaseError:  # an outage, now
        defer(quota=quota, record=record)
    except OSError as exc:
        logger.error("usage record lost (user %s): refused by the database, and the outbox failed (%s)",
                     _user(entry), type(exc).__name__)  # fmt: skip


def flush() -> int:
    """Apply every deferred file the database takes now; how many were applied. An entry the database
    refuses for good is set aside and the flush goes on; an outage stops it (the rest waits)."""
    applied = 0
    for path in sorted(_pending()):
        claimed = path.with_name(f"{path.name}.{os.getpid()}.claim")
        try:
            _rename(path, claimed)
        except FileNotFoundError:
            continue  # another process took it
        try:
            entry = _read(claimed)
            if entry is None:
                unreadable = {"id": None, "quota": None, "record": None, "text": _text(claimed)}
                landed = _set_aside(unreadable, path.name, "unreadable entry")
            else:
                landed = _land(entry, name=path.name)
        except OSError:  # the directory failed (set aside): the file waits, and the flusher says so
            _rename(claimed, path)
            raise
        except DatabaseError as exc:  # an outage: _land let only those through
            _rename(claimed, path)
            logger.warning("outbox: database unavailable (%s); %d relay ends wait", type(exc).__name__,
                           len(_pending()))  # fmt: skip
            break
        claimed.unlink()
        applied += landed == "applied"
    if applied:
        logger.warning("outbox: %d deferred relay ends written to the database", applied)
    return applied


def still_held(lease_ids: frozenset[uuid.UUID], *, write: bool) -> set[uuid.UUID]:
    """Of `lease_ids`, those whose request's end waits here (pending, or claimed by a process applying it),
    once (if `write`) a flush has written what the database takes now. A dead process's entries are
    the host's: any process may apply them, and does before it takes their requests for lost.
    An outbox that can't be read now (too many open files, the directory gone or unreadable) holds
    every one of them back, up to its lease's expiry: it may hold their ends."""
    try:
        if not _ids_waiting() & lease_ids:
            return set()
        if write:
            with contextlib.suppress(OSError):  # the directory failed midway: what is there still waits
                flush()
        return _ids_waiting() & lease_ids
    except OSError as exc:
        logger.error("outbox: its directory can't be read (%s); lost requests wait until it can be, or expire",
                     type(exc).__name__)  # fmt: skip
        return set(lease_ids)


def _ids_waiting() -> set[uuid.UUID]:
    """The ids of the entries not yet applied: pending, or claimed by a running process (a dead one's
    claims are pending again). Read with the claims held still (`_renames_held`): a file claimed, or
    given back, between the reading of the pending files and of the claims would be in neither."""
    directory = Path(settings.CHATGATEWAY_OUTBOX_DIR)
    if not directory.is_dir():
        return set()
    with _renames_held(directory):
        _take_up_dead_claims(directory)
        names = [path.name for path in [*directory.glob("*.json"), *directory.glob("*.json.*.claim")]]
    ids = set()
    for name in names:
        with contextlib.suppress(ValueError):  # named "<time_ns>-<id hex>.json[.<pid>.claim]" by defer()
            ids.add(uuid.UUID(name.split(".", 1)[0].partition("-")[2]))
    return ids


@contextlib.contextmanager
def _renames_held(directory: Path) -> Iterator[None]:
    """No claim is taken or given back meanwhile, by any process of the host: an exclusive `flock` on the
    directory itself (opened read-only, so a directory this process may only read still locks), which
    each claim's rename takes too, for as long as the rename."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # let go of when the descriptor is closed
        yield
    finally:
        os.close(descriptor)


def _rename(source: Path, target: Path) -> None:
    """Claim an entry, or give a claim back: a rename, while no one reads the outbox's ids."""
    with _renames_held(source.parent):
        source.rename(target)


def pending_count() -> int:
    return len(_pending())


def rejected_count() -> int:
    """Entries set aside (under `rejected/`) for an administrator to look at."""
    directory = Path(settings.CHATGATEWAY_OUTBOX_DIR) / REJECTED
    return len(list(directory.glob("*.json"))) if directory.is_dir() else 0


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
    # A directory this process can't write: its claims stay as they are.
    with contextlib.suppress(OSError), _renames_held(directory):
        _take_up_dead_claims(directory)
    for draft in directory.glob(".*.draft"):  # never finished by a process that has died: never an entry
        if _of_a_dead_process(draft):
            with contextlib.suppress(FileNotFoundError):
                draft.unlink()
    return list(directory.glob("*.json"))


def _take_up_dead_claims(directory: Path) -> None:
    """The claims of processes that have died are pending again (with the claims held still)."""
    for claim in directory.glob("*.json.*.claim"):
        if _of_a_dead_process(claim):
            with contextlib.suppress(FileNotFoundError):
                claim.rename(claim.with_name(claim.name.rsplit(".", 2)[0]))


def _of_a_dead_process(path: Path) -> bool:
    """Whether the process named in `path` ("….<pid>.claim", ".….<pid>.draft") has ended."""
    pid = path.name.rsplit(".", 2)[1]
    return pid.isdigit() and not processes.is_running(int(pid))


def _entry(*, quota: dict[str, Any] | None, record: dict[str, Any] | None) -> dict[str, Any]:
    key = (record or {}).get("reservation_id") or (quota or {}).get("lease_id") or uuid.uuid4()
    if record:
        record = {**record, "created": record["created"].isoformat(), "day": record["day"].isoformat()}
        record.pop("reservation_id", None)  # the entry's id
    return {"id": uuid.UUID(str(key)).hex, "quota": quota, "record": record}


def _write(directory: Path, name: str, content: dict[str, Any]) -> None:
    """`content` as `directory/name`, whole or not at all, synced."""
    directory.mkdir(parents=True, exist_ok=True)
    draft = directory / f".{name}.{os.getpid()}.draft"  # a process killed while writing it leaves it half-made
    with open(draft, "w") as file:
        json.dump(content, file)
        file.flush()
        os.fsync(file.fileno())
    draft.rename(directory / name)


def _read(path: Path) -> dict[str, Any] | None:
    """The entry in `path`, or None if it can't be one."""
    try:
        entry = json.loads(path.read_text())
    except ValueError:
        return None
    if not isinstance(entry, dict) or not {"quota", "record"} <= entry.keys():
        return None
    return entry


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


def _land(entry: dict[str, Any], *, name: str) -> str:
    """Apply `entry` once: "applied", "duplicate" (an earlier try committed it) or "rejected" (set
    aside). Raises DatabaseError only for an outage, with nothing written."""
    try:
        return _apply_once(entry)
    except DatabaseError as exc:
        if is_outage(exc):
            raise
        error: Exception = exc
    except Exception as exc:  # an entry that is not what defer() writes (or a bug): no retry would cure it
        return _set_aside(entry, name, f"not applicable: {type(exc).__name__}: {exc}")
    # Refused for good: by what? (These reads may meet an outage too, and raise it.)
    record = entry["record"]
    if record and entry.get("id") and UsageRecord.objects.filter(reservation_id=entry["id"]).exists():
        return "duplicate"  # another process applied it meanwhile
    if record and not get_user_model().objects.filter(pk=record["user_id"]).exists():
        return _set_aside(entry, name, f"user {record['user_id']} no longer exists")
    if record and record.get("api_key_id") and not _key_exists(record["api_key_id"]):
        entry = {**entry, "record": {**record, "api_key_id": None}}  # as the key's deletion leaves its records
        try:
            return _apply_once(entry)
        except DatabaseError as exc:
            if is_outage(exc):
                raise
            error = exc
    return _set_aside(entry, name, f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}")


def _key_exists(api_key_id: int) -> bool:
    return UsageRecord._meta.get_field("api_key").related_model.objects.filter(pk=api_key_id).exists()


def _set_aside(entry: dict[str, Any], name: str, reason: str) -> str:
    """Keep `entry` under rejected/, with why, for an administrator; the flush goes on without it."""
    _write(Path(settings.CHATGATEWAY_OUTBOX_DIR) / REJECTED, name, {**entry, "reason": reason})
    logger.error("outbox: the end of a relay (user %s) set aside in %s/%s: %s", _user(entry), REJECTED, name, reason)
    return "rejected"


def _apply_once(entry: dict[str, Any]) -> str:
    """The quota's write and the record in one transaction, unless the record of this entry's id is
    already there; the unique `reservation_id` holds against two processes applying it at once.

    The quota row first, then the record: the order of a lost lease's settlement (relay/lost.py), whose
    record takes the same id, so that the two never wait on each other in a circle (PostgreSQL would
    abort one, and a lost record aborted alone would leave a refund with no record to skip this one by)."""
    key = entry.get("id")  # None: written by a gateway from before the ids
    with transaction.atomic():
        fields = entry["record"]
        if fields and key and UsageRecord.objects.filter(reservation_id=key).exists():
            return "duplicate"
        if quota := entry["quota"]:
            reservation = Reservation(
                user_id=quota["user_id"],
                day=dt.date.fromisoformat(quota["day"]),
                token_budget=quota["token_budget"],
                allowance=None,  # only a live request's headers need it
                lease_id=quota.get("lease_id") and uuid.UUID(quota["lease_id"]),  # none in entries from before leases
                counts_request=quota.get("counts_request", True),
                charges=tuple(Charge.from_json(value) for value in quota.get("charges", ())),
            )
            if quota["tokens"] is None:
                refund_request(reservation=reservation)
            else:
                settle_request(reservation=reservation, tokens=quota["tokens"], cost=quota.get("cost", 0))
        if fields:
            fields = {**fields, "reservation_id": key}
            created = dt.datetime.fromisoformat(fields.pop("created"))
            if fields.get("day"):  # written by a gateway from before records kept their day, if not
                fields["day"] = dt.date.fromisoformat(fields["day"])
            record = UsageRecord.objects.create(**fields)
            UsageRecord.objects.filter(pk=record.pk).update(created=created)  # auto_now_add set it to now
    return "applied"


def _user(entry: dict[str, Any]) -> Any:
    return (entry.get("quota") or entry.get("record") or {}).get("user_id")


def take_up_leftovers(**kwargs: Any) -> None:
    """When a server process starts, and on its first request: apply what a process that has ended left
    (its entries, and those it had claimed), in the background."""
    request_started.disconnect(take_up_leftovers)
    if _pending():
        start_flusher()


def _flush_at_exit() -> None:
    with contextlib.suppress(Exception):  # the database may still be gone: the files stay
        if _pending():
            flush()


request_started.connect(take_up_leftovers)
atexit.register(_flush_at_exit)
