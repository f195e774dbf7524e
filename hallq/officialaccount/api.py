"""/api/v1: a ticket's WeChat QR code, binding a ticket or a citizen to a WeChat user, the
citizen's own pre-call distance, signing in from the official account, and the citizen's tickets
of today (the menu's "my ticket") (§5, §6, §7)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.db.models import Q
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from hallq.citizens.api import SignInOut
from hallq.citizens.auth import CitizenAuth, citizen_of
from hallq.citizens.models import CitizenWechat
from hallq.citizens.selectors import current_agreement
from hallq.common import clock
from hallq.common.api import ERRORS
from hallq.common.errors import Forbidden, NotFound
from hallq.halls.models import Hall
from hallq.officialaccount import services
from hallq.officialaccount.proofs import openid_from_proof
from hallq.officialaccount.pushes import MAX_PRE_CALL_DISTANCE
from hallq.officialaccount.qr import ticket_wechat_qr
from hallq.queueing.models import Ticket
from hallq.queueing.tokens import ticket_token, ticket_token_valid
from hallq.queueing.views import load_ticket, ticket_url

router = Router(tags=["wechat"])
citizen_auth = CitizenAuth()


class TicketQrOut(Schema):
    url: str = Field(description="What the QR code encodes.")
    expires_at: datetime | None = Field(description="null for the ticket's H5 link.")
    kind: str = Field(
        description="`wechat`: the official account's parametric code (scanning binds the "
        "ticket); `link`: the ticket's H5 page, when the account is not configured or WeChat "
        "cannot be reached.",
        examples=["wechat"],
    )


class ProofIn(Schema):
    proof: str = Field(
        max_length=500, description="The openid proof from /wechat/oauth/callback (10 minutes)."
    )


class TicketBoundOut(Schema):
    ticket_id: int
    number: str


class PreCallDistanceIn(Schema):
    distance: int = Field(ge=1, le=MAX_PRE_CALL_DISTANCE, examples=[3])


class PreCallDistanceOut(Schema):
    ticket_id: int
    pre_call_distance: int


def _ticket_with_token(ticket_id: int, token: str | None) -> Ticket:
    ticket = load_ticket(ticket_id)
    if ticket is None:
        raise NotFound(_("No such ticket."))
    if not ticket_token_valid(ticket.pk, token):
        raise Forbidden(_("This ticket's link is not valid."), code="bad_ticket_token")
    return ticket


@router.get("/tickets/{ticket_id}/wechat-qr", response={200: TicketQrOut, **ERRORS}, auth=None)
def tickets_wechat_qr(request: HttpRequest, ticket_id: int, token: str | None = None) -> dict:
    """What the ticket's QR code encodes (the kiosk prints it, the ticket page shows it)."""
    ticket = _ticket_with_token(ticket_id, token)
    qr = ticket_wechat_qr(ticket=ticket, link=ticket_url(ticket.pk, request), now=clock.now())
    return {"url": qr.url, "expires_at": qr.expires_at, "kind": qr.kind}


@router.post("/tickets/{ticket_id}/bind", response={200: TicketBoundOut, **ERRORS}, auth=None)
def tickets_bind(
    request: HttpRequest, ticket_id: int, body: ProofIn, token: str | None = None
) -> dict:
    """Bind the ticket to the WeChat user of the proof: its pre-call and call reach them.
    409 when it is bound to someone else or no longer in the queue."""
    _ticket_with_token(ticket_id, token)
    openid = openid_from_proof(body.proof)
    ticket = services.ticket_bind(ticket_id=ticket_id, openid=openid, now=clock.now())
    return {"ticket_id": ticket.pk, "number": ticket.number}


@router.put(
    "/tickets/{ticket_id}/pre-call-distance",
    response={200: PreCallDistanceOut, **ERRORS},
    auth=None,
)
def tickets_pre_call_distance(
    request: HttpRequest, ticket_id: int, body: PreCallDistanceIn, token: str | None = None
) -> dict:
    """How many people ahead should trigger the pre-call (叫号预备), 1–20."""
    _ticket_with_token(ticket_id, token)
    ticket = services.ticket_pre_call_distance_set(
        ticket_id=ticket_id, distance=body.distance, now=clock.now()
    )
    return {"ticket_id": ticket.pk, "pre_call_distance": body.distance}


@router.post("/citizen/wechat", response={204: None, **ERRORS}, auth=citizen_auth)
def citizen_wechat_bind(request: HttpRequest, body: ProofIn) -> Status[None]:
    """Bind the signed-in citizen to the WeChat user of the proof: next time the official
    account signs them in without an SMS code."""
    openid = openid_from_proof(body.proof)
    services.citizen_wechat_bind(citizen_id=citizen_of(request).pk, openid=openid, now=clock.now())
    return Status(204, None)


@router.delete("/citizen/wechat", response={204: None, **ERRORS}, auth=citizen_auth)
def citizen_wechat_unbind(request: HttpRequest) -> Status[None]:
    """Forget the WeChat users bound to the signed-in citizen."""
    services.citizen_wechat_unbind(citizen_id=citizen_of(request).pk)
    return Status(204, None)


@router.post("/citizen/sign-in/wechat", response={200: SignInOut, **ERRORS}, auth=None)
def citizen_sign_in_wechat(request: HttpRequest, body: ProofIn) -> SignInOut:
    """A citizen token for the WeChat user of the proof; 404 (`wechat_not_bound`) until they
    have signed in by SMS and bound their WeChat account."""
    openid = openid_from_proof(body.proof)
    citizen, token = services.sign_in_by_wechat(openid=openid, now=clock.now())
    agreement = current_agreement()
    current = agreement.version if agreement is not None else 0
    return SignInOut(
        token=token,
        registered=citizen.is_registered,
        agreement_version_required=current if citizen.agreement_version != current else 0,
    )


class MyTicketOut(Schema):
    id: int
    hall_id: int
    hall_name: str
    number: str = Field(examples=["A012"])
    service_name: str
    state: str = Field(examples=["waiting"])
    token: str
    url: str = Field(description="The ticket's live page.")


def todays_tickets_of(citizen_id: int, now: datetime) -> list[Ticket]:
    """The citizen's tickets of today, newest first: those issued to them (an appointment's
    check-in, a remote ticket) and those bound to one of their WeChat users (a scanned kiosk
    ticket). "Today" is each hall's own day."""
    openids = CitizenWechat.objects.filter(citizen_id=citizen_id).values("openid")
    today = Q()
    for zone in Hall.objects.values_list("time_zone", flat=True).distinct():
        local_day = now.astimezone(zoneinfo.ZoneInfo(zone)).date()
        today |= Q(hall__time_zone=zone, service_date=local_day)
    return list(
        Ticket.objects.filter(today)
        .filter(Q(owner_citizen_id=citizen_id) | Q(owner_openid__in=openids))
        .select_related("hall", "service")
        .order_by("-issued_at", "-pk")
    )


@router.get("/citizen/tickets", response={200: list[MyTicketOut], **ERRORS}, auth=citizen_auth)
def citizen_tickets(request: HttpRequest) -> list[MyTicketOut]:
    """The signed-in citizen's tickets of today in every hall, newest first, each with the link
    to its live page."""
    tickets = todays_tickets_of(citizen_of(request).pk, clock.now())
    return [
        MyTicketOut(
            id=ticket.pk,
            hall_id=ticket.hall_id,
            hall_name=ticket.hall.name,
            number=ticket.number,
            service_name=ticket.service.name,
            state=ticket.state,
            token=ticket_token(ticket.pk),
            url=ticket_url(ticket.pk, request),
        )
        for ticket in tickets
    ]
