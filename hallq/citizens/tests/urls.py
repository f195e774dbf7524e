"""The citizens router on its own API instance at /api/v1, answering errors as config/api.py
does, for tests that run before (or without) config/api.py mounting it. (Importing config.api
itself would make this context depend on every other one.)"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from hallq.citizens.api import router
from hallq.common.errors import HallqError

api = NinjaAPI(urls_namespace="citizens-test", docs_url=None)
api.add_router("", router)


@api.exception_handler(HallqError)
def hallq_error(request: HttpRequest, exc: HallqError) -> HttpResponse:
    return api.create_response(
        request, {"code": exc.code, "message": str(exc.message)}, status=exc.status
    )


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    message = _("Sign in first: a valid bearer token is needed.")
    return api.create_response(request, {"code": "unauthorised", "message": message}, status=401)


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return api.create_response(
        request, {"code": "invalid", "message": "invalid", "details": exc.errors}, status=400
    )


urlpatterns = [path("api/v1/", api.urls)]
