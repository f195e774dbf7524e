"""Django over ASGI with the synchronous chain (config/handlers.py), called as a server would."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
from django.core import signals

from config.handlers import ReusedThreadsASGIHandler, SyncChainASGIHandler, route, threads

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def application() -> Any:
    pool = threads()
    return route(SyncChainASGIHandler(pool), ReusedThreadsASGIHandler(pool), lambda path: False)


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
