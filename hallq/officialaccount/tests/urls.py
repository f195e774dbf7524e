"""The official account's router and views as config/urls.py mounts them, for tests that run
before (or without) config/api.py including them. The ticket page of hallq.web, which ticket
links name, is a stand-in here: this context may not import the web layer above it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from hallq.common.errors import HallqError
from hallq.officialaccount.api import router

api = NinjaAPI(urls_namespace="officialaccount-test", docs_url=None)
api.add_router("", router)


@api.exception_handler(HallqError)
def hallq_error(request: HttpRequest, exc: HallqError) -> HttpResponse:
    return api.create_response(
        request, {"code": exc.code, "message": str(exc.message)}, status=exc.status
    )


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(request, {"code": "unauthorised", "message": "-"}, status=401)


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return api.create_response(
        request, {"code": "invalid", "message": "invalid", "details": exc.errors}, status=400
    )


def ticket_page(request: HttpRequest, ticket_id: int) -> HttpResponse:
    return HttpResponse(f"ticket {ticket_id}")


web = ([path("t/<int:ticket_id>/", ticket_page, name="ticket")], "web")

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("hallq.officialaccount.urls")),
    path("", include(web)),
]
