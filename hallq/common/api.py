"""What every API module shares: the error shape, the bearer authentication hook and the
answers' JSON."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Schema
from ninja.renderers import BaseRenderer
from ninja.responses import NinjaJSONEncoder

from hallq.common import jsontext


class ErrorOut(Schema):
    code: str
    message: str


ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


class JSONRenderer(BaseRenderer):
    """django-ninja's JSON renderer, written by orjson (hallq/common/jsontext.py): its encoder's
    ``default`` still turns dates, times, decimals and lazy translations into JSON, as
    Django's encoder does."""

    media_type = "application/json"

    def __init__(self) -> None:
        self._default = NinjaJSONEncoder().default

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> Any:
        return jsontext.dumps_bytes(data, self._default)
