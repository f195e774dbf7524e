"""Django over ASGI with the synchronous chain (config/handlers.py), called as a server would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from django.conf import settings as django_settings
from django.core import signals
from django.db import close_old_connections, connection, connections
from django.test import RequestFactory
from django.urls import Resolver404, get_resolver

from config.handlers import (
    ReusedThreadsASGIHandler,
    SyncChainASGIHandler,
    _resolved,
    route,
    threads,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def application() -> Any:
    return served_by(threads())


def served_by(pool: Any) -> Any:
    """The application as config/asgi.py makes it, on these request threads, no path streaming."""
    return route(
        SyncChainASGIHandler(pool),
        ReusedThreadsASGIHandler(pool),
        lambda path: False,
        api=SyncChainASGIHandler(pool, django_settings.HALLQ_API_MIDDLEWARE),
    )


def call(application: Any, method: str, path: str, **options: Any) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, path, **options)

    return asyncio.run(run())


def test_a_plain_request_is_answered(application):
    response = call(application, "GET", "/healthz")

    assert response.status_code == 200


def test_the_request_body_reaches_the_view_and_errors_come_back_in_the_users_language(
    application,
):
    response = call(
        application,
        "POST",
        "/api/v1/auth/token",
        json={"username": "nobody", "password": "wrong"},
        headers={"Accept-Language": "zh-hans"},
    )

    assert response.status_code == 401
    assert response.json()["code"] == "bad_credentials"
    assert "密码" in response.json()["message"]


def test_cookies_the_middleware_sets_are_sent(application):
    response = call(application, "GET", "/admin/login/")

    assert response.status_code == 200
    assert "csrftoken" in response.headers.get("set-cookie", "")


def test_the_request_signals_and_the_view_run_once_on_one_thread_off_the_event_loop(application):
    seen: list[tuple[str, int]] = []

    def started(**_kwargs: Any) -> None:
        seen.append(("started", threading.get_ident()))

    def finished(**_kwargs: Any) -> None:
        seen.append(("finished", threading.get_ident()))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        response = call(application, "GET", "/healthz")
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)

    assert response.status_code == 200
    assert [name for name, _ in seen] == ["started", "finished"]
    (_, first), (_, second) = seen
    assert first == second != threading.get_ident()


def test_the_apis_chain_is_part_of_the_middleware_in_its_order():
    api = django_settings.HALLQ_API_MIDDLEWARE
    ordered = [path for path in django_settings.MIDDLEWARE if path in api]

    assert api == ordered
    assert "django.middleware.security.SecurityMiddleware" in api


def chain_of(handler: Any) -> list[str]:
    """The classes of a loaded chain, outermost first, and of its view, template-response and
    exception hooks."""
    names = []
    layer: Any = handler._middleware_chain
    while layer is not None:
        # convert_exception_to_response's wrapper keeps what it wraps in its closure
        inner = layer.__closure__[0].cell_contents if layer.__closure__ else None
        if inner is None or not hasattr(inner, "get_response"):
            break
        names.append(type(inner).__name__)
        layer = inner.get_response
    return [
        *names,
        "view:",
        *(type(hook.__self__).__name__ for hook in handler._view_middleware),
        "template-response:",
        *(type(hook.__self__).__name__ for hook in handler._template_response_middleware),
        "exception:",
        *(type(hook.__self__).__name__ for hook in handler._exception_middleware),
    ]


def test_a_chain_of_given_middleware_is_loaded_as_django_loads_the_settings_one():
    pool = threads()
    djangos = SyncChainASGIHandler(pool)
    given = SyncChainASGIHandler(pool, django_settings.MIDDLEWARE)

    assert chain_of(given) == chain_of(djangos)
    assert chain_of(djangos)[:2] == ["SecurityMiddleware", "SessionMiddleware"]
    assert "CsrfViewMiddleware" in chain_of(djangos)[chain_of(djangos).index("view:") :]


def test_api_answers_come_through_the_apis_chain_and_pages_through_the_whole(application):
    api = call(application, "GET", "/api/v1/halls", headers={"Accept-Language": "en"})
    page = call(application, "GET", "/admin/login/")

    # Both chains: security headers, the language.
    for response in (api, page):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "Accept-Language" in response.headers["Vary"]
        assert int(response.headers["Content-Length"]) == len(response.content)
    assert api.status_code == 200
    assert api.headers["Content-Type"] == "application/json; charset=utf-8"
    assert api.headers["Content-Language"] == "en"
    # Only pages: X-Frame-Options and the CSRF cookie.
    assert "X-Frame-Options" not in api.headers
    assert "csrftoken" not in api.headers.get("set-cookie", "")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "csrftoken" in page.headers.get("set-cookie", "")


def test_pages_still_refuse_a_form_without_its_csrf_token(application):
    response = call(application, "POST", "/admin/login/", data={"username": "x", "password": "y"})

    assert response.status_code == 403


def test_streaming_paths_go_to_djangos_async_handler():
    served: list[str] = []

    async def streaming(scope: Any, receive: Any, send: Any) -> None:
        served.append("streaming")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    pool = threads()
    application = route(SyncChainASGIHandler(pool), streaming, lambda p: p.endswith("/events"))  # type: ignore[arg-type]

    assert call(application, "GET", "/api/v1/halls/1/events").status_code == 204
    assert call(application, "GET", "/healthz").status_code == 200
    assert served == ["streaming"]


ON_POSTGRESQL = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's pool only: SQLite opens a file"
)
LOGIN = {"username": "nobody", "password": "wrong"}  # a query, then 401


def on_thread(pool: Any, index: int, function: Any) -> Any:
    return pool.executors[index].submit(function).result()


def held_session() -> int | None:
    """The database session this thread's connection is, if the thread holds one."""
    wrapper = connections["default"]
    if wrapper.connection is None:
        return None
    if wrapper.vendor == "postgresql":
        return int(wrapper.connection.info.backend_pid)
    return id(wrapper.connection)


@ON_POSTGRESQL
def test_on_postgresql_a_request_thread_keeps_its_connection_until_its_hold_is_over(settings):
    settings.HALLQ_DB_HOLD_SECONDS = 0.5
    pool = threads()
    application = served_by(pool)
    try:
        assert call(application, "POST", "/api/v1/auth/token", json=LOGIN).status_code == 401
        first = on_thread(pool, 0, held_session)
        assert call(application, "POST", "/api/v1/auth/token", json=LOGIN).status_code == 401
        second = on_thread(pool, 0, held_session)
        time.sleep(0.6)
        # The first request after the hold gives it back; one without a query takes none.
        assert call(application, "GET", "/no-such-page/").status_code == 404
        after = on_thread(pool, 0, held_session)
    finally:
        pool.release_connections()

    assert first is not None
    assert second == first
    assert after is None


@ON_POSTGRESQL
def test_a_held_connection_left_inside_a_transaction_goes_back_to_the_pool(settings):
    settings.HALLQ_DB_HOLD_SECONDS = 60
    pool = threads()

    def begin_and_finish() -> tuple[int | None, int | None]:
        wrapper = connections["default"]
        wrapper.ensure_connection()
        held = held_session()
        wrapper.connection.execute("BEGIN")  # psycopg directly: Django does not know
        close_old_connections()  # what the end of a request does
        return held, held_session()

    try:
        held, after = on_thread(pool, 0, begin_and_finish)
    finally:
        pool.release_connections()

    assert held is not None
    assert after is None


def test_with_no_hold_and_on_sqlite_a_request_thread_gives_its_connection_back_after_each(
    settings,
):
    settings.HALLQ_DB_HOLD_SECONDS = 0 if connection.vendor == "postgresql" else 60
    pool = threads()
    application = served_by(pool)
    try:
        assert call(application, "POST", "/api/v1/auth/token", json=LOGIN).status_code == 401
        after = on_thread(pool, 0, held_session)
    finally:
        pool.release_connections()

    assert after is None


@ON_POSTGRESQL
def test_a_thread_that_serves_no_requests_gives_its_connection_back_after_each(settings):
    settings.HALLQ_DB_HOLD_SECONDS = 60

    def query_then_finish() -> int | None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        close_old_connections()  # what the end of a request does
        return held_session()

    with ThreadPoolExecutor(max_workers=1) as other:
        assert other.submit(query_then_finish).result() is None


def test_settings_refuse_more_request_threads_than_the_pool_has_room_for():
    environment = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
        "HALLQ_DB_POOL_MAX": "8",
        "HALLQ_REQUEST_THREADS": "8",
        "HALLQ_DB_HOLD_SECONDS": "60",
    }

    def import_settings() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "import config.settings"],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )

    refused = import_settings()
    environment["HALLQ_DB_HOLD_SECONDS"] = "0"
    without_hold = import_settings()

    assert refused.returncode != 0
    assert "HALLQ_REQUEST_THREADS (8) must be below HALLQ_DB_POOL_MAX (8)" in refused.stderr
    assert without_hold.returncode == 0, without_hold.stderr


def test_a_paths_match_is_remembered_and_each_request_gets_its_own_arguments():
    handler = SyncChainASGIHandler(threads())
    path = "/api/v1/counters/17/call-next"

    _resolved.cache_clear()
    first, second = (handler.resolve_request(RequestFactory().post(path)) for _ in range(2))
    djangos = get_resolver().resolve(path)

    assert (_resolved.cache_info().misses, _resolved.cache_info().hits) == (1, 1)

    for match in (first, second):
        assert (match.func, match.args, match.kwargs, match.route, match.view_name) == (
            djangos.func,
            djangos.args,
            djangos.kwargs,
            djangos.route,
            djangos.view_name,
        )
    assert first is not second
    assert first.kwargs is not second.kwargs
    with pytest.raises(Resolver404):
        handler.resolve_request(RequestFactory().get("/no-such-page/"))


@pytest.mark.parametrize(
    "messages",
    [
        [{"type": "http.request", "body": b'{"a": 1}'}],
        [
            {"type": "http.request", "body": b'{"a"', "more_body": True},
            {"type": "http.request", "body": b"", "more_body": True},
            {"type": "http.request", "body": b": 1}"},
        ],
    ],
    ids=["one-message", "several"],
)
def test_a_body_is_read_whole_in_one_message_or_several(messages):
    handler = SyncChainASGIHandler(threads())
    given = iter(messages)

    async def receive() -> dict[str, Any]:
        return next(given)

    body = asyncio.run(handler.read_body(receive))

    assert body.read() == b'{"a": 1}'
    assert next(given, None) is None


def test_a_client_gone_before_its_body_is_an_aborted_request():
    from django.core.exceptions import RequestAborted

    handler = SyncChainASGIHandler(threads())

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    with pytest.raises(RequestAborted):
        asyncio.run(handler.read_body(receive))
