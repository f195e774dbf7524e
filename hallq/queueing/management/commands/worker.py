from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from hallq.common.worker import run_forever, start_loops


class Command(BaseCommand):
    help = "Run the background worker: periodic jobs (end-of-day expiry…), notification delivery."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        loops = start_loops(stop)
        run_forever(stop)
        for loop in loops:
            loop.join(timeout=10)
