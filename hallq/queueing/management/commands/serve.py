from __future__ import annotations

import os
import threading
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand

from hallq.common.worker import run_forever, start_loops


class Command(BaseCommand):
    help = (
        "Serve hallq over ASGI (uvicorn). HOST, PORT and HALLQ_WEB_PROCESSES from the environment."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--processes", type=int, default=int(os.environ.get("HALLQ_WEB_PROCESSES", "1"))
        )
        parser.add_argument(
            "--with-worker",
            action="store_true",
            default=settings.HALLQ_INPROCESS_WORKER,
            help="also run the background worker in this process (one-machine setups)",
        )

    def handle(
        self, *args: Any, host: str, port: int, processes: int, with_worker: bool, **options: Any
    ) -> None:
        if processes > 1 and not settings.REDIS_URL:
            self.stderr.write("Several web processes need REDIS_URL for event fan-out.")
            raise SystemExit(2)
        stop = threading.Event()
        if with_worker:
            threading.Thread(target=run_forever, args=(stop,), daemon=True, name="worker").start()
            start_loops(stop)
        try:
            uvicorn.run(
                "config.asgi:application",
                host=host,
                port=port,
                workers=processes if processes > 1 else None,
                log_level=os.environ.get("HALLQ_LOG_LEVEL", "info").lower(),
                access_log=False,
                timeout_graceful_shutdown=3,
                lifespan="off",
            )
        finally:
            stop.set()
