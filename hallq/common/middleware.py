"""Django's message middleware, with the messages' storage made only when a request uses it."""

from __future__ import annotations

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponse
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
