"""Django's request handling for ASGI, with one crossing from the event loop to a thread.

Django's own ``ASGIHandler`` runs the middleware chain in async mode. Every middleware Django
ships (sessions, CSRF, locale, authentication, messages…) is synchronous, so in that mode each of
them crosses from the event loop to a thread and back for its request hook and again for its
response hook, and the ``request_started`` and ``request_finished`` signals and the view cross
too: about fifteen round trips between the loop and a thread per request, each a future, a
queue hand-off and a fight for the GIL. That was most of the stack's floor (bench/NOTES.md).

``SyncChainASGIHandler`` reads the request on the event loop, then runs everything Django does
for it — the signals, the synchronous middleware chain, the view, rendering and closing the
response — as one call on one of a fixed set of threads, as a WSGI server would, and sends the
response from the event loop. It serves responses whose body is known when the view returns;
a view that streams (the event streams) is served by Django's async handler instead, which
``route`` decides by path. The API's requests (``/api/``) go through a chain of their own,
``HALLQ_API_MIDDLEWARE``: the part of ``MIDDLEWARE`` they use.
"""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core import signals
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed, RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.db import connections
from django.http import HttpRequest, HttpResponseBase
from django.urls import ResolverMatch, URLResolver, get_resolver, set_script_prefix, set_urlconf
from django.utils.module_loading import import_string

from hallq.common.db import keep_connection_between_requests

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


# Every set of request threads made in this process (one in service; tests make more), kept so
# that their connections can be given back (``release_held_connections``): a set dropped while
# its threads held connections would leave them open until the collector found them.
_every_threads: list[_Threads] = []


class _Threads:
    """A fixed set of single-thread executors: each request runs wholly on one thread (Django's
    database connections belong to threads) and threads are reused instead of created per
    request, each keeping its PostgreSQL connection between requests for
    ``HALLQ_DB_HOLD_SECONDS`` (hallq.common.postgresql). The least busy one takes the next
    request."""

    def __init__(self, count: int) -> None:
        hold = settings.HALLQ_DB_HOLD_SECONDS
        self.executors = [
            ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix=f"hallq-request-{index}",
                initializer=keep_connection_between_requests,
                initargs=(hold,),
            )
            for index in range(count)
        ]
        self.in_use = [0] * count
        _every_threads.append(self)

    def release_connections(self) -> None:
        """Give back the connections the threads keep (run on each thread: a connection
        belongs to its thread)."""
        for executor in self.executors:
            executor.submit(connections.close_all).result(timeout=30)

    def pick(self) -> int:
        index = min(range(len(self.in_use)), key=self.in_use.__getitem__)
        self.in_use[index] += 1
        return index

    def release(self, index: int) -> None:
        self.in_use[index] -= 1


class ReusedThreadsASGIHandler(ASGIHandler):
    """Django's async handler, with each request's synchronous parts on one of the fixed threads
    rather than a new thread per request (Django's default). Serves the streaming views."""

    def __init__(self, threads: _Threads) -> None:
        super().__init__()
        self._threads = threads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        index = self._threads.pick()
        try:
            async with ThreadSensitiveContext(executor=self._threads.executors[index]):
                await self.handle(scope, receive, send)
        finally:
            self._threads.release(index)


class SyncChainASGIHandler(ASGIHandler):
    """Django over ASGI with the synchronous middleware chain run in one thread per request:
    ``settings.MIDDLEWARE``, or the middleware given."""

    def __init__(self, threads: _Threads, middleware: Sequence[str] | None = None) -> None:
        base.BaseHandler.__init__(self)  # not ASGIHandler's: it loads the async chain
        if middleware is None:
            self.load_middleware(is_async=False)
        else:
            self._load_sync_middleware(middleware)
        self._threads = threads

    def _load_sync_middleware(self, paths: Sequence[str]) -> None:
        """Django's ``load_middleware(is_async=False)`` for these middleware instead of
        ``settings.MIDDLEWARE`` (Django's reads the setting itself). Every one must be
        synchronous, as all of hallq's are: the chain runs on a request thread."""
        self._view_middleware: list[Callable[..., Any]] = []
        self._template_response_middleware: list[Callable[..., Any]] = []
        self._exception_middleware: list[Callable[..., Any]] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(paths):
            factory = import_string(path)
            if not getattr(factory, "sync_capable", True):
                raise ImproperlyConfigured(f"{path} is not synchronous: the chain runs on a thread")
            try:
                instance = factory(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body = await self.read_body(receive)
        except RequestAborted:  # the client went away before sending its whole request
            return
        loop = asyncio.get_running_loop()
        index = self._threads.pick()
        try:
            response = await loop.run_in_executor(
                self._threads.executors[index], self._respond, scope, body
            )
        finally:
            self._threads.release(index)
        await self.send_response(response, send)

    async def read_body(self, receive: Receive) -> IO[bytes]:
        """The request's body: when it comes in one message, as nearly every request's does
        (uvicorn sends a body that arrived whole as one), that message's bytes as a file in
        memory; otherwise Django's (a file that moves to disk past
        ``FILE_UPLOAD_MAX_MEMORY_SIZE``), given the first message again. Django's made its
        spooled temporary file for every request, ~1.5 % of a counter's (bench/NOTES.md)."""
        first = await receive()
        if first["type"] == "http.disconnect":
            raise RequestAborted()
        if not first.get("more_body", False):
            return io.BytesIO(first.get("body", b""))
        pending = [first]

        async def again() -> Mapping[str, Any]:
            return pending.pop() if pending else await receive()

        body: IO[bytes] = await super().read_body(again)
        return body

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        """Django's, with each path's match remembered (``_resolved``): a counter's call-next
        walks Django's and django-ninja's patterns, the routers' misses building their lists
        of what was tried, ~2 % of the request. A path that matches nothing is not
        remembered. Each request gets its own copy of the match's arguments."""
        urlconf = getattr(request, "urlconf", None)
        if urlconf is not None:
            set_urlconf(urlconf)
        found = _resolved(get_resolver(urlconf), request.path_info)
        match = object.__new__(ResolverMatch)  # a shallow copy (it refuses copy.copy)
        match.__dict__.update(found.__dict__)
        match.args, match.kwargs = tuple(found.args), dict(found.kwargs)
        request.resolver_match = match
        return match

    def _respond(self, scope: Scope, body: IO[bytes]) -> HttpResponseBase:
        """Everything Django does for one request, on this thread: the answer, rendered."""
        try:
            set_script_prefix(get_script_prefix(scope))
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, error_response = self.create_request(scope, body)
            response = error_response if request is None else self.get_response(request)
            assert response is not None
            if response.streaming:
                # Not expected here (``route`` sends streaming views elsewhere): drain it.
                content = b"".join(response)
                response.streaming_content = [content]  # type: ignore[attr-defined]
            elif not response.has_header("Content-Length"):  # CommonMiddleware's, for every chain
                response.headers["Content-Length"] = str(len(response.content))  # type: ignore[attr-defined]
            # request_finished: a connection goes back to the pool once its hold is over
            response.close()
            return response
        finally:
            body.close()


@functools.lru_cache(maxsize=10_000)
def _resolved(resolver: URLResolver, path: str) -> ResolverMatch:
    """A path's match by the resolver, the last 10,000 paths remembered. The resolver is part of
    the key: Django makes a new one when the URLconf setting changes."""
    return resolver.resolve(path)


API_PREFIX = "/api/"


def route(
    sync_chain: ASGIHandler,
    streaming: ASGIHandler,
    is_streaming: Callable[[str], bool],
    api: ASGIHandler | None = None,
) -> Callable[[Scope, Receive, Send], Any]:
    """The application: paths whose views stream go to Django's async handler, the API's other
    paths to the API's synchronous chain (when given), the rest to the synchronous chain."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if is_streaming(path):
            handler = streaming
        elif api is not None and path.startswith(API_PREFIX):
            handler = api
        else:
            handler = sync_chain
        await handler(scope, receive, send)

    return application


def threads() -> _Threads:
    return _Threads(settings.HALLQ_REQUEST_THREADS)


def release_held_connections() -> None:
    """Give back every connection the request threads of this process keep: for the tests,
    before the test database is dropped (a process that exits ends its connections anyway)."""
    for each in _every_threads:
        each.release_connections()
