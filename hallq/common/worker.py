"""The background worker: periodic jobs that each app registers in its ``AppConfig.ready``,
and loops that run in threads of their own (``register_loop``), such as notification delivery.

Every job is idempotent (running it twice, or in two workers at once, does nothing twice) and
takes ``now``; it returns how many things it changed, for the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import close_old_connections

from hallq.common import clock

logger = logging.getLogger(__name__)


@dataclass
class PeriodicJob:
    name: str
    run: Callable[[datetime], int]
    every_seconds: float
    next_at: float = field(default=0.0)


_jobs: dict[str, PeriodicJob] = {}
_loops: dict[str, Callable[[threading.Event], None]] = {}


def register(name: str, run: Callable[[datetime], int], *, every_seconds: float) -> None:
    _jobs[name] = PeriodicJob(name=name, run=run, every_seconds=every_seconds)


def register_loop(name: str, target: Callable[[threading.Event], None]) -> None:
    """A loop that runs until its event is set, in its own thread of every worker."""
    _loops[name] = target


def registered_loops() -> dict[str, Callable[[threading.Event], None]]:
    return dict(_loops)


def start_loops(stop: threading.Event) -> list[threading.Thread]:
    threads = [
        threading.Thread(target=target, args=(stop,), daemon=True, name=name)
        for name, target in registered_loops().items()
    ]
    for thread in threads:
        thread.start()
    return threads


def registered() -> list[PeriodicJob]:
    return list(_jobs.values())


def run_once(*, due_only: bool = False) -> dict[str, int]:
    """Run every job (or only those due); a failing job does not stop the others."""
    results: dict[str, int] = {}
    for job in registered():
        if due_only and time.monotonic() < job.next_at:
            continue
        job.next_at = time.monotonic() + job.every_seconds
        try:
            changed = job.run(clock.now())
            results[job.name] = changed
            if changed:
                logger.info("%s: %d", job.name, changed)
        except Exception:
            logger.exception("job %s failed; trying again next round", job.name)
        finally:
            close_old_connections()
    return results


def run_forever(stop: threading.Event, tick: float = 5.0) -> None:
    while not stop.is_set():
        run_once(due_only=True)
        stop.wait(tick)
