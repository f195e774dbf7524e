"""Who is calling as a citizen: the bearer token from the SMS sign-in (``hc_…``).

Only the token's SHA-256 is stored, as for staff tokens (``hallq.halls.auth``).
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja.security import HttpBearer

from hallq.citizens.models import CITIZEN_TOKEN_PREFIX, Citizen, CitizenToken
from hallq.citizens.selectors import (
    SignedInCitizen,
    UncheckedToken,
    signed_in_citizen,
    signed_in_or_unchecked,
)
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
    """``Authorization: Bearer hc_…``; the handler finds the Citizen in ``request.auth``.

    With ``signed_in_only``, a ``SignedInCitizen`` instead: who it is, from a few seconds'
    memory of the token, without reading (and decrypting) the citizen's row. For the booking
    calls a rush repeats; a token revoked in another process is accepted there for a few
    seconds more (``selectors.TOKEN_MEMO_SECONDS``). One class either way: it is one security
    scheme of the API, named after the class in the OpenAPI document.

    With ``checked_by_view`` as well, a token this process does not remember is not read
    here: ``request.auth`` is an ``UncheckedToken`` and the view's first statement checks it
    (401 when it finds none), so the request body is validated before the token is.
    """

    def __init__(self, *, signed_in_only: bool = False, checked_by_view: bool = False) -> None:
        super().__init__()
        self.signed_in_only = signed_in_only
        self.checked_by_view = checked_by_view

    def __call__(self, request: HttpRequest) -> Citizen | SignedInCitizen | UncheckedToken | None:
        """``HttpBearer``'s, reading the header from META rather than ``request.headers``,
        which builds a map of every header (~1 % of a request)."""
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(request, token)

    def authenticate(
        self, request: HttpRequest, token: str
    ) -> Citizen | SignedInCitizen | UncheckedToken | None:
        if self.checked_by_view:
            return signed_in_or_unchecked(token, clock.now())
        if self.signed_in_only:
            return signed_in_citizen(token, clock.now())
        return citizen_for_token(token, clock.now())


def signed_in_of(request: HttpRequest) -> SignedInCitizen:
    signed_in: SignedInCitizen = request.auth  # type: ignore[attr-defined]
    return signed_in


def citizen_of(request: HttpRequest) -> Citizen:
    citizen: Citizen = request.auth  # type: ignore[attr-defined]
    return citizen


def bearer_token(request: HttpRequest) -> str:
    # META, not ``request.headers``: that builds a map of every header (~1 % of a request).
    header: str = request.META.get("HTTP_AUTHORIZATION", "")
    return header.removeprefix("Bearer ").strip()
