"""Reads about citizens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db import connection

from hallq.citizens.domain.identity import normalise_id_number
from hallq.citizens.models import (
    CITIZEN_TOKEN_PREFIX,
    Agreement,
    BlacklistEntry,
    Citizen,
    CitizenToken,
    id_number_index,
)
from hallq.common.db import column_value, fetch_all
from hallq.common.memo import Memo, unexpired
from hallq.halls.models import hash_token


def blacklisted_until(*, citizen_id: int, now: datetime) -> datetime | None:
    """The end of the citizen's current blacklisting, or None."""
    return (
        BlacklistEntry.objects.filter(
            citizen_id=citizen_id, lifted_at=None, starts_at__lte=now, ends_at__gt=now
        )
        .order_by("-ends_at")
        .values_list("ends_at", flat=True)
        .first()
    )


def current_agreement() -> Agreement | None:
    return Agreement.objects.order_by("-version").first()


AGREEMENT_VERSION_KEY = "agreement-version"
# Every booking checks the version. A new version is seen at once by the process that published
# it, within AGREEMENT_MEMO_SECONDS by the others where the cache is shared (Redis), and within
# AGREEMENT_CACHE_SECONDS where it is not.
AGREEMENT_CACHE_SECONDS = 10
AGREEMENT_MEMO_SECONDS = 2
_agreement_version = Memo[int](AGREEMENT_MEMO_SECONDS, size=1)


def current_agreement_version() -> int:
    """The version every citizen must have accepted (0: there is no agreement)."""
    return _agreement_version.remembered(AGREEMENT_VERSION_KEY, _shared_agreement_version)


def _shared_agreement_version() -> int:
    version: int | None = cache.get(AGREEMENT_VERSION_KEY)
    if version is None:
        version = (
            Agreement.objects.order_by("-version").values_list("version", flat=True).first() or 0
        )
        cache.set(AGREEMENT_VERSION_KEY, version, AGREEMENT_CACHE_SECONDS)
    return version


def current_agreement_version_forget() -> None:
    """A new version was published: forget the one this process and the shared cache keep."""
    _agreement_version.forget(AGREEMENT_VERSION_KEY)
    cache.delete(AGREEMENT_VERSION_KEY)


def citizen_by_id_number(id_number: str) -> Citizen | None:
    """The registered citizen with this ID number (as typed at a kiosk), found by its blind
    index: the column itself is encrypted."""
    return Citizen.objects.filter(
        id_number_index=id_number_index(normalise_id_number(id_number))
    ).first()


@dataclass(frozen=True, slots=True)
class SignedInCitizen:
    """The citizen a bearer token belongs to, by id only: what a request decides about them is
    read where it is decided (a booking reads it under the citizen's row lock), and nothing
    personal is decrypted to answer a request that does not show it."""

    pk: int


# Which citizen a token belongs to, remembered for a few seconds: in a booking rush one citizen
# asks again and again. Signing out forgets the token in this process at once; another process
# accepts it for at most this long.
TOKEN_MEMO_SECONDS = 5
_signed_in: Memo[tuple[SignedInCitizen, datetime | None]] = Memo(TOKEN_MEMO_SECONDS)


def signed_in_citizen(token: str, now: datetime) -> SignedInCitizen | None:
    """The citizen of an unexpired ``hc_…`` token, or None."""
    if not token.startswith(CITIZEN_TOKEN_PREFIX):
        return None
    digest = hash_token(token)
    return unexpired(_signed_in, digest, lambda: _token_holder(digest, now), now)


def _token_holder(digest: str, now: datetime) -> tuple[SignedInCitizen, datetime | None] | None:
    table = CitizenToken._meta.db_table
    rows = fetch_all(
        f"SELECT citizen_id, expires_at FROM {table} "  # noqa: S608 - the model's table
        "WHERE token_hash = %s AND expires_at > %s",
        [digest, connection.ops.adapt_datetimefield_value(now)],
    )
    if not rows:
        return None
    citizen_id, expires_at = rows[0]
    return SignedInCitizen(citizen_id), column_value(CitizenToken, "expires_at", expires_at)


@dataclass(frozen=True, slots=True)
class UncheckedToken:
    """A citizen token this process does not remember, left for the request's first statement
    to check together with what it reads anyway (``booking.selectors.slot_to_book``): a
    citizen's first booking request, or a rush's first-time losers, read the database once,
    not twice. ``token_checked`` remembers what that statement found."""

    digest: str


def signed_in_or_unchecked(token: str, now: datetime) -> SignedInCitizen | UncheckedToken | None:
    """The citizen of a remembered, unexpired ``hc_…`` token; an ``UncheckedToken`` for any
    other ``hc_…`` token (it may be unknown: the caller must check it before anything else);
    None for a token of another kind."""
    if not token.startswith(CITIZEN_TOKEN_PREFIX):
        return None
    digest = hash_token(token)
    known = unexpired(_signed_in, digest, lambda: None, now)
    return known if known is not None else UncheckedToken(digest)


def token_checked(digest: str, citizen_id: int, expires_at: datetime | None) -> SignedInCitizen:
    """The citizen a statement found for an ``UncheckedToken`` (unexpired: the statement
    asked), remembered as ``signed_in_citizen`` remembers it — with the same window: a sign-out
    in this process between the statement and this forgets first, and the token is remembered
    again for at most ``TOKEN_MEMO_SECONDS``, as in another process."""
    return _signed_in.remembered(digest, lambda: (SignedInCitizen(citizen_id), expires_at))[0]


def signed_in_citizen_forget(token: str) -> None:
    """Forget a token this process remembers (it has just been revoked)."""
    _signed_in.forget(hash_token(token))
