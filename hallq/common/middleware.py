"""Two of Django's middleware, doing less where hallq does not need it: the messages' storage
made only when a request uses it, and the language without looking for it in the path."""

from __future__ import annotations

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject, empty


class LazyMessageMiddleware(MessageMiddleware):
    """``MessageMiddleware``, whose storage (a cookie storage with its signer, and a session
    storage) is made on first use: the back office's pages use messages, the API and the
    citizens' pages never do, and making it was ~3 % of an answer "full" to a booking
    (bench/NOTES.md). A request that never touched it stores nothing, as the storage itself
    would have done."""

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)


class LocaleWithoutPathPrefixesMiddleware(LocaleMiddleware):
    """Django's ``LocaleMiddleware`` for URLconfs without language prefixes (no
    ``i18n_patterns``), as hallq's are. The language comes from the cookie and Accept-Language
    as Django decides it; what is left out is Django reading a language from the path twice a
    request, which for ``/api/v1/…`` tries "api" as a language, fails and raises inside — ~3 %
    of a counter's request (bench/NOTES.md). With no prefixes Django's answer is the same
    (``test_middleware`` compares them); a URLconf with prefixes is refused."""

    def process_request(self, request: HttpRequest) -> None:
        urlconf = getattr(request, "urlconf", settings.ROOT_URLCONF)
        if is_language_prefix_patterns_used(urlconf)[0]:
            raise ImproperlyConfigured(
                f"{urlconf} has language prefixes (i18n_patterns): use Django's LocaleMiddleware"
            )
        translation.activate(translation.get_language_from_request(request, check_path=False))
        request.LANGUAGE_CODE = translation.get_language()

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
