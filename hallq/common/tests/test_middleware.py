"""The message middleware whose storage is made on first use (hallq/common/middleware.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils.functional import empty

from hallq.common.middleware import LazyMessageMiddleware

pytestmark = pytest.mark.django_db


def through_the_middleware(
    view: Callable[[HttpRequest], HttpResponse],
) -> tuple[HttpRequest, HttpResponse]:
    request = RequestFactory().get("/somewhere/")
    seen: dict[str, HttpRequest] = {}

    def answer(request: HttpRequest) -> HttpResponse:
        seen["request"] = request
        return view(request)

    response = SessionMiddleware(LazyMessageMiddleware(answer))(request)
    assert isinstance(response, HttpResponse)
    return seen["request"], response


def test_a_request_that_never_uses_messages_makes_no_storage_and_stores_nothing():
    request, response = through_the_middleware(lambda request: HttpResponse("ok"))

    assert request._messages._wrapped is empty  # type: ignore[attr-defined]
    assert "messages" not in response.cookies


def test_a_message_added_is_stored_and_read_on_the_next_request():
    def add(request: HttpRequest) -> HttpResponse:
        messages.success(request, "保存成功")
        return HttpResponse("ok")

    request, response = through_the_middleware(add)

    assert isinstance(request._messages._wrapped, FallbackStorage)  # type: ignore[attr-defined]
    assert "messages" in response.cookies
    following = RequestFactory().get("/elsewhere/")
    following.COOKIES["messages"] = response.cookies["messages"].value
    read: list[str] = []

    def show(request: HttpRequest) -> HttpResponse:
        read.extend(str(message) for message in messages.get_messages(request))
        return HttpResponse("ok")

    SessionMiddleware(LazyMessageMiddleware(show))(following)
    assert read == ["保存成功"]
