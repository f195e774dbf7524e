"""The ASGI application: Django, with static files answered before the middleware chain.

Static files are served by Django's staticfiles handler wrapped around the application, not by
a middleware: a sync-only middleware (WhiteNoise's) would make every API request cross between
the event loop and threads three times instead of once (docs/decisions/0002).
"""

from __future__ import annotations

import gc
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.handlers.asgi import ASGIHandler


class ReusedThreadsASGIHandler(ASGIHandler):
    """Django's ASGI handler, running each request's synchronous part on one of a fixed set of
    threads rather than on a new thread per request (Django's default).

    A request keeps one thread from start to finish, as Django's database connections require;
    requests that land on the same thread take turns. Threads, and the pooled database
    connections they hold during a request, are reused instead of created each time.
    """

    def __init__(self, threads: int) -> None:
        super().__init__()
        self._executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hallq-request-{index}")
            for index in range(threads)
        ]
        self._in_use = [0] * threads

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        index = min(range(len(self._in_use)), key=self._in_use.__getitem__)
        self._in_use[index] += 1
        try:
            async with ThreadSensitiveContext(executor=self._executors[index]):
                await self.handle(scope, receive, send)
        finally:
            self._in_use[index] -= 1


django.setup(set_prefix=False)
application = ASGIStaticFilesHandler(ReusedThreadsASGIHandler(settings.HALLQ_REQUEST_THREADS))

# Everything loaded so far lives as long as the process: keep it out of the cyclic collector's
# way, and collect less often. With thousands of open event streams a full collection stopped
# the process for 0.2-1.7 s every few seconds (bench/NOTES.md); reference counting still frees
# almost everything at once, the collector only finds cycles.
gc.freeze()
gc.set_threshold(50_000, 20, 100)
