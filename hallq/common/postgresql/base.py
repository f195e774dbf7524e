"""Django's PostgreSQL backend, where a thread that serves requests keeps its connection from the
pool between requests instead of giving it back at the end of each (docs/decisions/0007).

With psycopg's pool, Django gives a request's connection back when the request ends and takes one
again at its first query of the next: the connection parameters built again, the pool's
``getconn`` and ``putconn`` under its lock, the set-up checks, and — the pool handing out its
connections in turn — the hot reads prepared once on every connection before any of them is
warm. That was a tenth of the instructions of a call-next and its start (bench/NOTES.md).

A thread marked by ``hallq.common.db.keep_connection_between_requests`` — each of the web
process's fixed request threads (config/handlers.py) — now holds the connection it took for up to
``HALLQ_DB_HOLD_SECONDS``. Everything else is as Django does it for persistent connections: at
the start and end of each request, ``close_if_unusable_or_obsolete`` gives the connection back
(to the pool, which keeps, checks or ends it) when its time is up, when an error left it
unusable, or when autocommit was not restored. Other threads — the streams' reads, the workers,
the tests' racing threads — take and give back as before: their number is not bounded, the
request threads' is, and settings refuse more request threads than the pool holds.
"""

from __future__ import annotations

import time

from django.db.backends.postgresql import base

from hallq.common.db import connection_hold_seconds


class DatabaseWrapper(base.DatabaseWrapper):
    def connect(self) -> None:
        super().connect()
        hold = connection_hold_seconds()
        if hold > 0 and self.pool is not None:
            self.close_at = time.monotonic() + hold
