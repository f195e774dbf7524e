"""The ASGI application: Django, with static files answered before the middleware chain.

Static files are served by Django's staticfiles handler wrapped around the application, not by
a middleware: a sync-only middleware (WhiteNoise's) would make every API request cross between
the event loop and threads three times instead of once (docs/decisions/0002).
"""

import gc
import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = ASGIStaticFilesHandler(get_asgi_application())

# Everything loaded so far lives as long as the process: keep it out of the cyclic collector's
# way, and collect less often. With thousands of open event streams a full collection stopped
# the process for 0.2-1.7 s every few seconds (bench/NOTES.md); reference counting still frees
# almost everything at once, the collector only finds cycles.
gc.freeze()
gc.set_threshold(50_000, 20, 100)
