"""Errors a user can cause, each with a stable code, an HTTP status and a translated message."""

from __future__ import annotations

from django.utils.functional import Promise


class HallqError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str | Promise, *, code: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(HallqError):
    status = 400
    code = "invalid"


class NotFound(HallqError):
    status = 404
    code = "not_found"


class Forbidden(HallqError):
    status = 403
    code = "forbidden"


class Conflict(HallqError):
    """The request is well formed but the current state does not allow it."""

    status = 409
    code = "conflict"
