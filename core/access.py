"""Who may do what, cached in each process: the API keys, users, teams and limits that every request reads
before its reservation, without reading them each time.

A cached value is used only while the database's access stamp (`core.AccessStamp`, one row) is the one it
was read under. Every change to a table those values come from replaces the stamp with a random number, in
the changing transaction, by triggers on the table (`watch`, used by the apps' migrations): so a
revocation, a deactivation, a new password, a membership or a limit changed in admin, a queryset's
`update()`, raw SQL or another host's change all end every process's cache at once, the next time it reads
the stamp. That is one statement of one row, read once a database step (`core/db.py` marks the steps),
before anything it guards: a value read after the stamp and cached under it can only be newer than the
stamp says, never older. Outside a step (a synchronous view, a command) it is read on every lookup.

Random rather than counted, so that a change rolled back (a test's transaction) can never bring back a
stamp that a cache was filled under. Writes the hot path makes itself (an API key's `last_used`, a user's
`last_login`, a quota row's counts) are left out of the triggers, so they change no stamp.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

from django.db import connection, migrations

T = TypeVar("T")

TABLE = "core_accessstamp"
FUNCTION = "core_new_access_stamp"
MAX_ENTRIES = 20_000  # then it starts afresh: bounded whatever callers look up

_lock = threading.Lock()
_stamp: int | None = None  # the stamp that `_entries` were read under
_entries: dict[tuple[str, Hashable], object] = {}
_MISSING = object()
_step = threading.local()


def begin_step() -> None:
    """A database step starts in this thread: the stamp is read at most once until it ends."""
    _step.active, _step.stamp = True, None


def end_step() -> None:
    _step.active, _step.stamp = False, None


def cached(kind: str, key: Hashable, make: Callable[[], T], *, keep_none: bool = True) -> T:
    """`make()`'s value for (`kind`, `key`), from this process's cache while the access stamp is unchanged.
    Its value is shared between requests: callers must not change it (copy what they hand out).
    `keep_none=False`: a None is not kept (keys that callers choose, such as a credential's prefix, must
    not let them fill the cache)."""
    global _stamp, _entries
    stamp = current_stamp()
    if stamp is None:
        return make()
    with _lock:
        if _stamp != stamp:
            _stamp, _entries = stamp, {}
        found = _entries.get((kind, key), _MISSING)
    if found is not _MISSING:
        return found  # type: ignore[return-value]
    value = make()
    if connection.in_atomic_block and _read_stamp() != stamp:
        # This transaction changed who may do what since the stamp was read (its own write, which it may
        # yet roll back): what it reads now is not for the other requests.
        return value
    with _lock:
        # Not if another thread saw a newer stamp meanwhile: then this value is not the cache's to keep.
        if _stamp == stamp and (keep_none or value is not None):
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
            _entries[(kind, key)] = value
    return value


def current_stamp() -> int | None:
    """The database's access stamp (once a step); None if its row is missing (a test flushed the tables:
    it is made again, and nothing is cached until the next read)."""
    if getattr(_step, "active", False) and _step.stamp is not None:
        return _step.stamp
    stamp = _read_stamp()
    if stamp is None:
        from core.models import AccessStamp

        AccessStamp.objects.bulk_create([AccessStamp(id=1, stamp=_random())], ignore_conflicts=True)
        return None
    if getattr(_step, "active", False):
        _step.stamp = stamp
    return stamp


def _read_stamp() -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT stamp FROM {TABLE} WHERE id = 1")  # noqa: S608  (a constant)
        row = cursor.fetchone()
    return row[0] if row is not None else None


def _random() -> int:
    import secrets

    return secrets.randbits(62)


# --- the triggers, for the apps' migrations -----------------------------------------------------------
def create_stamp() -> migrations.RunPython:
    """core's migration: the stamp's row, and on PostgreSQL the trigger function that replaces it."""

    def forward(apps, schema_editor) -> None:
        run = schema_editor.execute
        run(f"INSERT INTO {TABLE} (id, stamp) VALUES (1, %s)", [_random()])  # noqa: S608  (constants)
        if schema_editor.connection.vendor == "postgresql":
            run(
                f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "  # noqa: S608
                f"UPDATE {TABLE} SET stamp = floor(random() * 4611686018427387903)::bigint WHERE id = 1; "
                f"RETURN NULL; END $$"
            )

    def backward(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}() CASCADE")

    return migrations.RunPython(forward, backward, elidable=False)


def watch(table: str, *, ignore: Iterable[str] = (), only: Iterable[str] | None = None) -> migrations.RunPython:
    """A migration's operation: every insert, delete and update of `table` replaces the access stamp;
    an update only if it sets a column other than those in `ignore` (or, given `only`, one of those)."""
    ignore, only = tuple(ignore), tuple(only) if only is not None else None

    def forward(apps, schema_editor) -> None:
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            columns = [column.name for column in connection.introspection.get_table_description(cursor, table)]
        watched = [c for c in columns if (c in only if only is not None else c not in ignore)]
        for statement in trigger_statements(connection.vendor, table, watched):
            schema_editor.execute(statement)

    def backward(apps, schema_editor) -> None:
        for name in trigger_names(table):
            on = f" ON {table}" if schema_editor.connection.vendor == "postgresql" else ""
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}{on}")

    return migrations.RunPython(forward, backward, elidable=False)


def trigger_names(table: str) -> list[str]:
    return [f"{table}_access_{event}" for event in ("insert", "update", "delete", "truncate")]


def trigger_statements(vendor: str, table: str, watched: list[str]) -> list[str]:
    """Row triggers (a statement that changes no row changes no stamp), and on PostgreSQL a TRUNCATE one,
    which can only be a statement's."""
    quoted = ", ".join(f'"{column}"' for column in watched)
    pg = vendor == "postgresql"
    events = {"insert": "INSERT", "update": f"UPDATE OF {quoted}", "delete": "DELETE", "truncate": "TRUNCATE"}
    statements = []
    for name, event in zip(trigger_names(table), events.values(), strict=True):
        statements.append(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if pg else ""))
        if pg:
            each = "STATEMENT" if event == "TRUNCATE" else "ROW"
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH {each} EXECUTE FUNCTION {FUNCTION}()"
            )
        elif event != "TRUNCATE":  # SQLite has no TRUNCATE
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN "  # noqa: S608
                f"UPDATE {TABLE} SET stamp = random() WHERE id = 1; END"
            )
    return statements
