"""What every API module shares: the error shape and the bearer authentication hook."""

from __future__ import annotations

from typing import Any

from ninja import Schema


class ErrorOut(Schema):
    code: str
    message: str


ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}
