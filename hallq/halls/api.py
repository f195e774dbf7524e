"""/api/v1: sign-in, halls, services and counters."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from ninja.security import HttpBearer

from hallq.common import clock
from hallq.common.api import ERRORS
from hallq.halls.auth import (
    Principal,
    principal_for_request,
    principal_for_token,
    staff_token_issue,
    staff_token_revoke,
)
from hallq.halls.models import Counter, CounterService, Hall, Service

router = Router(tags=["halls"])


class BearerAuth(HttpBearer):
    """``Authorization: Bearer <token>``: a staff token or a hall device token.

    A signed-in back-office session may also read (GET) without a token.
    """

    def __call__(self, request: HttpRequest) -> Principal | None:
        return principal_for_request(request, clock.now())

    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        return principal_for_token(token, clock.now())


bearer = BearerAuth()


def principal_of(request: HttpRequest) -> Principal:
    principal: Principal = request.auth  # type: ignore[attr-defined]
    return principal


class TokenIn(Schema):
    username: str
    password: str


class TokenOut(Schema):
    token: str
    username: str
    hall_ids: list[int]


@router.post("/auth/token", response={200: TokenOut, **ERRORS}, auth=None)
def auth_token(request: HttpRequest, body: TokenIn) -> TokenOut:
    """Exchange a staff member's username and password for a bearer token (12 hours)."""
    now = clock.now()
    token = staff_token_issue(username=body.username, password=body.password, now=now)
    principal = principal_for_token(token, now)
    assert principal is not None
    return TokenOut(token=token, username=body.username, hall_ids=sorted(principal.hall_ids))


class MeOut(Schema):
    kind: str
    username: str | None
    hall_ids: list[int]
    all_halls: bool


@router.get("/auth/me", response={200: MeOut, **ERRORS}, auth=bearer)
def auth_me(request: HttpRequest) -> MeOut:
    """Who this token belongs to: a staff member, a kiosk or a display board, and its halls.
    Kiosks and displays call it at start to tell a revoked token at once."""
    principal = principal_of(request)
    return MeOut(
        kind=principal.kind,
        username=principal.username,
        hall_ids=sorted(principal.hall_ids),
        all_halls=principal.all_halls,
    )


@router.post("/auth/logout", response={204: None, **ERRORS}, auth=bearer)
def auth_logout(request: HttpRequest) -> Status[None]:
    """Revoke the staff token this request carries (signing out at the counter)."""
    header = request.headers.get("Authorization", "")
    staff_token_revoke(token=header.removeprefix("Bearer ").strip())
    return Status(204, None)


class HallOut(Schema):
    id: int
    name: str
    address: str
    latitude: float | None
    longitude: float | None
    time_zone: str
    organisation: str


@router.get("/halls", response=list[HallOut], auth=None)
def halls_list(request: HttpRequest) -> list[HallOut]:
    """Every hall, for choosing one (public)."""
    return [
        HallOut(
            id=hall.pk,
            name=hall.name,
            address=hall.address,
            latitude=float(hall.latitude) if hall.latitude is not None else None,
            longitude=float(hall.longitude) if hall.longitude is not None else None,
            time_zone=hall.time_zone,
            organisation=hall.organisation.name,
        )
        for hall in Hall.objects.select_related("organisation").order_by("pk")
    ]


class ServiceOut(Schema):
    id: int
    name: str
    prefix: str
    guide: str
    bookable: bool
    pre_call_distance: int
    average_service_seconds: int


@router.get("/halls/{hall_id}/services", response={200: list[ServiceOut], **ERRORS}, auth=None)
def services_list(request: HttpRequest, hall_id: int) -> list[Service]:
    """The hall's services (public)."""
    hall = get_object_or_404(Hall, pk=hall_id)
    return list(Service.objects.filter(hall=hall, active=True))


class CounterOut(Schema):
    id: int
    number: int
    name: str
    state: str
    service_ids: list[int]
    staff: str | None


@router.get("/halls/{hall_id}/counters", response={200: list[CounterOut], **ERRORS}, auth=None)
def counters_list(request: HttpRequest, hall_id: int) -> list[CounterOut]:
    """The hall's counters, with the services each serves in priority order (public)."""
    hall = get_object_or_404(Hall, pk=hall_id)
    services: dict[int, list[int]] = {}
    for counter_id, service_id in (
        CounterService.objects.filter(counter__hall=hall)
        .order_by("counter_id", "priority", "service_id")
        .values_list("counter_id", "service_id")
    ):
        services.setdefault(counter_id, []).append(service_id)
    return [
        CounterOut(
            id=c.pk,
            number=c.number,
            name=c.name,
            state=c.state,
            service_ids=services.get(c.pk, []),
            staff=c.staff.get_username() if c.staff else None,
        )
        for c in Counter.objects.filter(hall=hall).select_related("staff")
    ]
