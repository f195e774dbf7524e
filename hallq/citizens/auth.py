"""Who is calling as a citizen: the bearer token from the SMS sign-in (``hc_…``).

Only the token's SHA-256 is stored, as for staff tokens (``hallq.halls.auth``).
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja.security import HttpBearer

from hallq.citizens.models import CITIZEN_TOKEN_PREFIX, Citizen, CitizenToken
from hallq.common import clock
from hallq.halls.models import hash_token


def citizen_for_token(token: str, now: datetime) -> Citizen | None:
    if not token.startswith(CITIZEN_TOKEN_PREFIX):
        return None
    signed_in = (
        CitizenToken.objects.filter(token_hash=hash_token(token), expires_at__gt=now)
        .select_related("citizen")
        .first()
    )
    return signed_in.citizen if signed_in is not None else None


class CitizenAuth(HttpBearer):
    """``Authorization: Bearer hc_…``; the handler finds the Citizen in ``request.auth``."""

    def authenticate(self, request: HttpRequest, token: str) -> Citizen | None:
        return citizen_for_token(token, clock.now())


def citizen_of(request: HttpRequest) -> Citizen:
    citizen: Citizen = request.auth  # type: ignore[attr-defined]
    return citizen


def bearer_token(request: HttpRequest) -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
