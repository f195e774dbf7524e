"""The versioned REST API (§11): one NinjaAPI assembling each context's router."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from hallq.booking.api import router as booking_router
from hallq.citizens.api import router as citizens_router
from hallq.common.api import JSONRenderer
from hallq.common.errors import HallqError
from hallq.halls.api import router as halls_router
from hallq.officialaccount.api import router as officialaccount_router
from hallq.queueing.api import router as queue_router


class HallqAPI(NinjaAPI):
    """django-ninja's API, its responses made with their charset given: a response not told
    it searches its Content-Type for it each time its content is encoded (twice an answer,
    ~1.5 % of a counter's request: bench/NOTES.md)."""

    def create_temporal_response(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("", content_type=self.get_content_type(), charset=self.renderer.charset)

    def create_response(
        self,
        request: HttpRequest,
        data: Any,
        *,
        status: int | None = None,
        temporal_response: HttpResponse | None = None,
    ) -> HttpResponse:
        if temporal_response is not None:
            return super().create_response(request, data, temporal_response=temporal_response)
        assert status
        return HttpResponse(
            self.renderer.render(request, data, response_status=status),
            status=status,
            content_type=self.get_content_type(),
            charset=self.renderer.charset,
        )


api = HallqAPI(
    renderer=JSONRenderer(),
    title="hallq API",
    version="1",
    description="Appointment, queuing and calling for service halls. Staff send "
    "`Authorization: Bearer <token>` from POST /api/v1/auth/token; kiosks and display boards "
    "send their device token the same way. Errors are `{code, message}` in the caller's "
    "language (Accept-Language: zh-Hans or en).",
    urls_namespace="api-v1",
)
api.add_router("", halls_router)
api.add_router("", queue_router)
api.add_router("", citizens_router)
api.add_router("", booking_router)
api.add_router("", officialaccount_router)


@api.exception_handler(HallqError)
def hallq_error(request: HttpRequest, exc: HallqError) -> HttpResponse:
    return api.create_response(
        request, {"code": exc.code, "message": str(exc.message)}, status=exc.status
    )


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    from django.utils.translation import gettext as _

    return api.create_response(
        request,
        {"code": "unauthorised", "message": _("Sign in first: a valid bearer token is needed.")},
        status=401,
    )


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    from django.utils.translation import gettext as _

    fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors})
    message = _("The request is not valid: %(fields)s.") % {"fields": ", ".join(fields) or "-"}
    return api.create_response(
        request, {"code": "invalid", "message": message, "details": exc.errors}, status=400
    )
