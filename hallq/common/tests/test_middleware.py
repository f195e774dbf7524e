"""The message middleware whose storage is made on first use (hallq/common/middleware.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf.urls.i18n import i18n_patterns
from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.test import RequestFactory
from django.urls import path
from django.utils import translation
from django.utils.functional import empty

from hallq.common.middleware import LazyMessageMiddleware, LocaleWithoutPathPrefixesMiddleware

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


# A URLconf with language prefixes, for the refusal below (``request.urlconf`` names this module).
urlpatterns = i18n_patterns(path("page/", lambda request: HttpResponse("page")))

LANGUAGE_REQUESTS = [
    ("/api/v1/halls/1/progress", {}, {}),
    ("/api/v1/halls/1/progress", {"Accept-Language": "en-US,en;q=0.9"}, {}),
    ("/en/kiosk/", {"Accept-Language": "zh-CN,zh;q=0.9"}, {}),
    ("/kiosk/", {"Accept-Language": "fr, de;q=0.5"}, {}),
    ("/kiosk/", {"Accept-Language": "en"}, {"django_language": "zh-hans"}),
    ("/no-such-page/", {}, {"django_language": "en"}),
]


def language_answer(
    middleware_class: type[LocaleMiddleware],
    path: str,
    headers: dict[str, str],
    cookies: dict[str, str],
) -> tuple[str, str, str | None, str | None, int]:
    request = RequestFactory().get(path, headers=headers)
    request.COOKIES.update(cookies)

    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(translation.gettext("Cancel"), status=404 if "no-such" in path else 200)

    with translation.override(None):
        response = middleware_class(view)(request)
        assert isinstance(response, HttpResponse)
        return (
            request.LANGUAGE_CODE,
            response.content.decode(),
            response.headers.get("Vary"),
            response.headers.get("Content-Language"),
            response.status_code,
        )


@pytest.mark.parametrize(("path", "headers", "cookies"), LANGUAGE_REQUESTS)
def test_the_language_is_what_djangos_locale_middleware_gives_without_prefixes(
    path, headers, cookies
):
    ours = language_answer(LocaleWithoutPathPrefixesMiddleware, path, headers, cookies)
    djangos = language_answer(LocaleMiddleware, path, headers, cookies)

    assert ours == djangos


def test_english_asked_for_is_english_and_otherwise_chinese():
    english = language_answer(
        LocaleWithoutPathPrefixesMiddleware, "/kiosk/", {"Accept-Language": "en"}, {}
    )
    chinese = language_answer(LocaleWithoutPathPrefixesMiddleware, "/kiosk/", {}, {})

    assert (english[0], chinese[0]) == ("en", "zh-hans")
    assert english[2] == "Accept-Language"


def test_a_urlconf_with_language_prefixes_is_refused():
    request = RequestFactory().get("/en/page/")
    request.urlconf = __name__

    with pytest.raises(ImproperlyConfigured):
        LocaleWithoutPathPrefixesMiddleware(lambda request: HttpResponse())(request)
