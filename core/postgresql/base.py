"""Django's PostgreSQL backend, lending a pooled connection without a round trip to check it when it was
lent a moment ago.

With `conn_health_checks`, Django has psycopg's pool check every connection it lends with a round trip to
the server; a relayed request borrows one for each of its database steps (core/db.py), so those checks
were three round trips a request, and 6 to 8 % of its CPU (bench/cpu_cost.py). Here the pool lends
without a check (settings turn Django's off when the pool is on) and this backend checks instead, unless
the connection was lent less than `RECENTLY` seconds ago: one that broke meanwhile was discarded then (Django
closes a connection whose use failed, and the pool drops a closed one), as pools such as HikariCP skip
their check within `aliveBypassWindowMs` (500 ms). One idle for longer is checked as before, so a database
that restarted while the gateway was quiet costs no request; a broken one is dropped and another taken.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

RECENTLY = 0.5  # seconds

_lent: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        pool = self.pool
        if not pool:
            return super().get_new_connection(conn_params)
        for _ in range((pool.max_size or 1) + 1):
            connection = super().get_new_connection(conn_params)
            now = time.monotonic()
            lent, _lent[connection] = _lent.get(connection), now
            if lent is not None and now - lent < RECENTLY:
                return connection
            try:
                ConnectionPool.check_connection(connection)
            except psycopg.Error:  # broken: the pool drops a closed connection given back
                _lent.pop(connection, None)
                connection.close()
                pool.putconn(connection)
                continue
            return connection
        return super().get_new_connection(conn_params)
