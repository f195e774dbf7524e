"""The ASGI application: the event streams, then Django with static files answered before the
middleware chain.

The hall and ticket event streams are answered by a bare ASGI app in front of Django
(hallq/queueing/event_routes.py), without the middleware and with less memory per open stream.
Everything else is Django (config/handlers.py): with its synchronous middleware chain run in one
thread per request, as a WSGI server would, rather than Django's async chain, which crosses
between the event loop and threads about fifteen times per request; the API's requests through
``HALLQ_API_MIDDLEWARE``, the part of the chain they use; the streams the fast route passes on
(a staff member following a ticket) go through Django's async handler. Static files
are served by Django's staticfiles handler wrapped around the application, not by a middleware
(docs/decisions/0002).
"""

from __future__ import annotations

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

from config.handlers import (  # noqa: E402 (needs the apps loaded)
    ReusedThreadsASGIHandler,
    SyncChainASGIHandler,
    route,
    threads,
)
from hallq.queueing.event_routes import EventRoutes  # noqa: E402


def _streams(path: str) -> bool:
    """The views that stream: the event streams, for what the fast route passes on."""
    return path.startswith("/api/v1/") and path.endswith("/events")


_threads = threads()
application = EventRoutes(
    route(
        ASGIStaticFilesHandler(SyncChainASGIHandler(_threads)),
        ReusedThreadsASGIHandler(_threads),
        _streams,
        api=SyncChainASGIHandler(_threads, settings.HALLQ_API_MIDDLEWARE),
    )
)

# Everything loaded so far lives as long as the process: keep it out of the cyclic collector's
# way, and collect less often. With thousands of open event streams a full collection stopped
# the process for 0.2-1.7 s every few seconds (bench/NOTES.md); reference counting still frees
# almost everything at once, the collector only finds cycles.
gc.freeze()
gc.set_threshold(50_000, 20, 100)
