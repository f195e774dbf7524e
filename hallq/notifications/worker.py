"""The delivery loop: a thread of ``hallq worker`` (and of ``serve --with-worker``).

It delivers as soon as a notification is committed in this process (``wake``), and otherwise
looks for due ones every ``POLL_SECONDS``: those enqueued by other processes, retries whose
back-off has passed, and leases of workers that died.
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

from hallq.common import clock

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
BATCH = 100

_wake = threading.Event()


def wake() -> None:
    """Tell this process's delivery loop there is something to deliver (called on commit)."""
    _wake.set()


def run_delivery(stop: threading.Event) -> None:
    from hallq.notifications.delivery import notifications_deliver

    while not stop.is_set():
        _wake.clear()
        delivered = 0
        try:
            delivered = notifications_deliver(now=clock.now(), limit=BATCH)
        except Exception:
            logger.exception("delivering notifications failed; trying again shortly")
            stop.wait(1)
        finally:
            close_old_connections()
        if delivered:
            logger.debug("notifications tried: %d", delivered)
        if delivered < BATCH:
            _wake.wait(POLL_SECONDS)
