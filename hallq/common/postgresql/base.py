"""Django's PostgreSQL backend, where a thread that serves requests keeps its connection from the
pool between requests instead of giving it back at the end of each (docs/decisions/0007).

With psycopg's pool, Django gives a request's connection back when the request ends and takes one
again at its first query of the next: the connection parameters built again, the pool's
``getconn`` and ``putconn`` under its lock, autocommit set again. That was ~3 % of the
instructions of a call-next and its start, of a ticket and of a booking (bench/NOTES.md).

A thread marked by ``hallq.common.db.keep_connection_between_requests`` — each of the web
process's fixed request threads (config/handlers.py) — now holds the connection it took for up to
``HALLQ_DB_HOLD_SECONDS``. Everything else is as Django does it for persistent connections: at
the start and end of each request, ``close_if_unusable_or_obsolete`` gives the connection back
(to the pool, which keeps, checks or ends it) when its time is up, when an error left it
unusable, or when autocommit was not restored — and here also when it was left inside a
transaction. Other threads — the streams' reads, the workers,
the tests' racing threads — take and give back as before: their number is not bounded, the
request threads' is, and settings refuse more request threads than the pool holds.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus

from hallq.common.db import connection_hold_seconds


class DatabaseWrapper(base.DatabaseWrapper):
    def _configure_connection(self, connection: Any) -> bool:
        """Django's settings of a new connection (time zone, role), and one of ours: prepared
        statements are planned once per connection (``plan_cache_mode``, docs/decisions/0006).
        A session setting, made once per connection the pool opens, rather than a startup
        option, which a connection pooler may refuse."""
        super()._configure_connection(connection)  # type: ignore[misc]
        with connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_generic_plan")
        return True  # inside a transaction (no pool, autocommit off), it must be committed

    def connect(self) -> None:
        super().connect()
        hold = connection_hold_seconds()
        if hold > 0 and self.pool is not None:
            self.close_at = time.monotonic() + hold

    def close_if_unusable_or_obsolete(self) -> None:
        """Django's checks, and one the pool made when the connection came back after every
        request: a held connection left inside a transaction (a raw ``BEGIN``, psycopg used
        directly) goes back to the pool, which rolls it back, rather than on to the next
        request. Django's own checks read only its autocommit flag and its errors."""
        if (
            self.connection is not None
            and connection_hold_seconds() > 0
            and self.connection.info.transaction_status != TransactionStatus.IDLE
        ):
            self.close()
            return
        super().close_if_unusable_or_obsolete()
