"""The background worker's periodic jobs, each idempotent: running one twice does nothing twice."""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

from hallq.common import clock
from hallq.queueing.services import tickets_expire

logger = logging.getLogger(__name__)

EXPIRY_INTERVAL_SECONDS = 60.0


def run_once() -> None:
    try:
        expired = tickets_expire(now=clock.now())
        if expired:
            logger.info("expired %d tickets of earlier days", expired)
    finally:
        close_old_connections()


def run_forever(stop: threading.Event, interval: float = EXPIRY_INTERVAL_SECONDS) -> None:
    while not stop.is_set():
        try:
            run_once()
        except Exception:
            logger.exception("worker round failed; trying again next round")
        stop.wait(interval)
