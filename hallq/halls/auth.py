"""Who is calling the API: a staff member (bearer token from /auth/token) or a hall device.

Tokens are random; only their SHA-256 is stored, so a leaked database does not leak tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser, AbstractUser, AnonymousUser
from django.http import HttpRequest
from django.utils.translation import gettext as _

from hallq.common.errors import Forbidden, HallqError
from hallq.common.memo import Memo, unexpired
from hallq.halls.models import (
    DEVICE_TOKEN_PREFIX,
    STAFF_TOKEN_PREFIX,
    DeviceKind,
    DeviceToken,
    HallMembership,
    StaffToken,
    hash_token,
    new_token,
)

STAFF_TOKEN_LIFETIME = timedelta(hours=12)


class Unauthorised(HallqError):
    status = 401
    code = "unauthorised"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "staff", "kiosk" or "display"
    user_id: int | None = None
    username: str | None = None
    hall_ids: frozenset[int] = frozenset()
    all_halls: bool = False
    device_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    def in_hall(self, hall_id: int) -> bool:
        return self.all_halls or hall_id in self.hall_ids

    def require_staff_of(self, hall_id: int) -> None:
        if not (self.is_staff and self.in_hall(hall_id)):
            raise Forbidden(_("You do not work in this hall."))

    def require_kiosk_or_staff_of(self, hall_id: int) -> None:
        if not (self.kind in {"staff", DeviceKind.KIOSK} and self.in_hall(hall_id)):
            raise Forbidden(_("Only this hall's kiosks and staff can do that."))


def staff_token_issue(*, username: str, password: str, now: datetime) -> str:
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise Unauthorised(_("Wrong username or password."), code="bad_credentials")
    token = new_token(STAFF_TOKEN_PREFIX)
    StaffToken.objects.create(
        user=user, token_hash=hash_token(token), expires_at=now + STAFF_TOKEN_LIFETIME
    )
    return token


def staff_token_revoke(*, token: str) -> None:
    StaffToken.objects.filter(token_hash=hash_token(token)).delete()


def device_token_issue(*, hall_id: int, kind: str, name: str) -> str:
    token = new_token(DEVICE_TOKEN_PREFIX)
    DeviceToken.objects.create(hall_id=hall_id, kind=kind, name=name, token_hash=hash_token(token))
    return token


def _staff_principal(user: AbstractBaseUser) -> Principal:
    all_halls = bool(getattr(user, "is_superuser", False))
    hall_ids = frozenset(
        HallMembership.objects.filter(user_id=user.pk).values_list("hall_id", flat=True)
    )
    return Principal(
        kind="staff",
        user_id=user.pk,
        username=user.get_username(),
        hall_ids=hall_ids,
        all_halls=all_halls,
    )


# Who a token belongs to, remembered for a few seconds: every API request asks. A token revoked
# or a membership changed in another process takes effect here within this time.
PRINCIPAL_MEMO_SECONDS = 10
_principals: Memo[tuple[Principal, datetime | None]] = Memo(PRINCIPAL_MEMO_SECONDS)


def principal_for_token(token: str, now: datetime) -> Principal | None:
    digest = hash_token(token)
    return unexpired(_principals, digest, lambda: _principal_for_digest(token, digest, now), now)


def _principal_for_digest(
    token: str, digest: str, now: datetime
) -> tuple[Principal, datetime | None] | None:
    if token.startswith(DEVICE_TOKEN_PREFIX):
        device = _device_principal(digest)
        return (device, None) if device is not None else None
    staff = (
        StaffToken.objects.filter(token_hash=digest, expires_at__gt=now, user__is_active=True)
        .select_related("user")
        .first()
    )
    if staff is not None:
        return _staff_principal(staff.user), staff.expires_at
    return None


def _device_principal(digest: str) -> Principal | None:
    device = DeviceToken.objects.filter(token_hash=digest, revoked_at__isnull=True).first()
    if device is None:
        return None
    return Principal(kind=device.kind, hall_ids=frozenset({device.hall_id}), device_id=device.pk)


def principal_for_request(request: HttpRequest, now: datetime) -> Principal | None:
    # META, not ``request.headers``: that builds a map of every header (~1 % of a request).
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.startswith("Bearer "):
        return principal_for_token(header.removeprefix("Bearer ").strip(), now)
    # A signed-in back-office session may read; writes need a bearer token (no CSRF to check).
    user = getattr(request, "user", AnonymousUser())
    if request.method in {"GET", "HEAD"} and isinstance(user, AbstractUser) and user.is_staff:
        return _staff_principal(user)
    return None
