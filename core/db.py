"""Database work from async views: `await in_db(step, ...)` runs a synchronous step (ORM code) in a
thread, so the event loop keeps serving other requests meanwhile.

The threads are a small pool of the process, not a thread per request. Django's default for async
code (`sync_to_async`, thread-sensitive) runs each request's database work in a thread made for that
request, which then opens a database connection of its own: both cost more than the queries they run
(docs/performance.md). Here the threads live as long as the process:
- on SQLite each keeps its connection open (a SQLite connection costs nothing to hold, and opening one
  costs a file open and the PRAGMAs);
- on a database server each step gives its connection back when it is done (to the psycopg pool, see
  DATABASE_POOL_MAX_SIZE), so that a thousand open streams hold no connection between their steps.
A step is one short unit of work (a transaction at most): never a call upstream.

Code running under `async_to_sync` (a synchronous caller, e.g. the test client or a synchronous
middleware in front of the view) keeps Django's behaviour: its steps run in that caller's thread, on
its connection, so that they see its transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import AsyncToSync, sync_to_async
from django.conf import settings
from django.db import DatabaseError, connection

from core import access, metrics

T = TypeVar("T")


@functools.cache
def executor() -> ThreadPoolExecutor:
    """The process's database threads (DATABASE_THREADS of them)."""
    return ThreadPoolExecutor(max_workers=settings.DATABASE_THREADS, thread_name_prefix="database")


async def in_db(step: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run `step(*args, **kwargs)` in a database thread and give its connection back afterwards."""
    if getattr(AsyncToSync.executors, "current", None) is not None:
        return await sync_to_async(_run_and_release)(step, *args, **kwargs)
    return await sync_to_async(_run_and_release, thread_sensitive=False, executor=executor())(step, *args, **kwargs)


def _run_and_release(step: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    access.begin_step()  # the access stamp is read once a step (core/access.py)
    try:
        with metrics.database_step():  # the threads busy now, a gauge of /metrics
            return step(*args, **kwargs)
    except DatabaseError:
        # A broken connection (the server restarted, the network dropped) must not stay with the thread;
        # but a caller's transaction (a step run in its thread, under async_to_sync) is the caller's to end.
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
        raise
    finally:
        access.end_step()
        release_connection()


def release_connection() -> None:
    """Give this thread's database connection back between steps: to the pool, or closed unless
    DATABASE_CONN_MAX_AGE keeps it.

    Only for a database server, whose connections are few. A SQLite connection costs nothing to hold,
    and closing it after every step costs a WAL checkpoint and its fsyncs (measured by bench/run.py).
    """
    if connection.vendor != "sqlite" and not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()
