"""/api/v1: tickets, counter actions, hall progress and the event streams (§11)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from hallq.common import clock
from hallq.common.api import ERRORS
from hallq.common.db import db_read
from hallq.common.errors import Forbidden, InvalidInput, NotFound
from hallq.halls.api import bearer, principal_of
from hallq.halls.auth import principal_for_request
from hallq.halls.models import Counter, Hall, Service
from hallq.halls.selectors import service_with_hall
from hallq.queueing import services
from hallq.queueing.models import Channel, Ticket
from hallq.queueing.selectors import HallProgress, counter_hall_id, hall_progress
from hallq.queueing.streams import sse, ticket_stream
from hallq.queueing.tokens import ticket_token, ticket_token_valid
from hallq.queueing.views import (
    calls_view,
    counter_view,
    load_ticket,
    progress_view,
    ticket_url,
    ticket_view,
)
from hallq.realtime.streams import hall_messages, last_event_id, prelude, sse_response

router = Router(tags=["queue"])


class TicketOut(Schema):
    id: int
    hall_id: int
    number: str = Field(examples=["A012"])
    service_id: int
    service_name: str
    state: str
    kind: str
    channel: str
    people_ahead: int | None
    estimated_wait_seconds: int | None
    counter_id: int | None
    counter_number: int | None
    counter_name: str | None
    issued_at: datetime
    called_at: datetime | None
    recall_count: int
    transferred_to: dict[str, Any] | None


class TicketIssuedOut(TicketOut):
    token: str
    url: str


def _answer(schema: type[TicketOut], view: dict[str, Any]) -> TicketOut:
    """``view`` (``ticket_view``'s, of the ticket's own fields) as ``schema`` without validating
    it again: django-ninja serializes an instance of the declared schema as it is, where a dict
    would be validated field by field first (~5 % of a call pair's instructions). The tests
    validate these answers against the schemas (hallq/queueing/tests/test_api_schemas.py)."""
    return schema.model_construct(**view)


class TicketIn(Schema):
    service_id: int
    channel: Channel = Channel.KIOSK


ISSUING_CHANNELS = {Channel.KIOSK, Channel.COUNTER, Channel.API}


@router.post("/halls/{hall_id}/tickets", response={201: TicketIssuedOut, **ERRORS}, auth=bearer)
def tickets_issue(request: HttpRequest, hall_id: int, body: TicketIn) -> Status[TicketOut]:
    """Take a walk-in ticket for a service (a kiosk's device token, or the hall's staff)."""
    principal_of(request).require_kiosk_or_staff_of(hall_id)
    if body.channel not in ISSUING_CHANNELS:
        raise InvalidInput(_("Tickets cannot be issued on that channel here."), code="channel")
    service = service_with_hall(body.service_id)
    if service is None or service.hall_id != hall_id or not service.active:
        get_object_or_404(Hall, pk=hall_id)
        raise InvalidInput(_("This hall has no such service."), code="unknown_service")
    now = clock.now()
    ticket = services.ticket_issue(
        hall=service.hall, service=service, channel=body.channel, now=now
    )
    position = (ticket.people_ahead_at_issue, ticket.estimated_wait_at_issue)
    view = ticket_view(ticket, now, position=position)
    view["token"], view["url"] = ticket_token(ticket.pk), ticket_url(ticket.pk, request)
    return Status(201, _answer(TicketIssuedOut, view))


def _ticket_for(request: HttpRequest, ticket_id: int, token: str | None) -> Ticket:
    ticket = load_ticket(ticket_id)
    if ticket is None:
        raise NotFound(_("No such ticket."))
    if ticket_token_valid(ticket.pk, token):
        return ticket
    principal = principal_for_request(request, clock.now())
    if principal is not None and principal.is_staff and principal.in_hall(ticket.hall_id):
        return ticket
    raise Forbidden(_("This ticket's link is not valid."), code="bad_ticket_token")


@router.get("/tickets/{ticket_id}", response={200: TicketOut, **ERRORS}, auth=None)
def tickets_get(request: HttpRequest, ticket_id: int, token: str | None = None) -> TicketOut:
    """A ticket with its live position: with the ticket's own token, or as the hall's staff."""
    ticket = _ticket_for(request, ticket_id, token)
    return _answer(TicketOut, ticket_view(ticket, clock.now()))


def _staff_counter(request: HttpRequest, counter_id: int) -> Counter:
    counter = get_object_or_404(Counter.objects.select_related("hall"), pk=counter_id)
    principal_of(request).require_staff_of(counter.hall_id)
    return counter


def _require_staff_of_counter(request: HttpRequest, counter_id: int) -> None:
    """The permission check of every counter action, without loading the counter: the
    service locks and loads it anyway. A counter never moves to another hall."""
    hall_id = counter_hall_id(counter_id)
    if hall_id is None:
        raise NotFound(_("No such counter."))
    principal_of(request).require_staff_of(hall_id)


def _staff_ticket(request: HttpRequest, ticket_id: int) -> Ticket:
    ticket = load_ticket(ticket_id)
    if ticket is None:
        raise NotFound(_("No such ticket."))
    principal_of(request).require_staff_of(ticket.hall_id)
    return ticket


class CounterOut(Schema):
    id: int
    hall_id: int
    number: int
    name: str
    state: str
    staff: str | None
    service_ids: list[int]
    current: TicketOut | None
    waiting_count: int
    waiting: list[dict[str, Any]]
    no_shows: list[dict[str, Any]]


@router.get("/counters/{counter_id}", response={200: CounterOut, **ERRORS}, auth=bearer)
def counters_get(request: HttpRequest, counter_id: int) -> dict:
    """The counter's state, current ticket and waiting list in calling order (staff)."""
    counter = _staff_counter(request, counter_id)
    return counter_view(counter, clock.now())


def _ticket_action(
    action: Callable[..., Ticket], request: HttpRequest, counter_id: int
) -> TicketOut:
    _require_staff_of_counter(request, counter_id)
    now = clock.now()
    return _answer(TicketOut, ticket_view(action(counter_id=counter_id, now=now), now))


@router.post(
    "/counters/{counter_id}/call-next",
    response={200: TicketOut, 204: None, **ERRORS},
    auth=bearer,
)
def counters_call_next(request: HttpRequest, counter_id: int) -> Any:
    """Call the next ticket by the calling order (§4.3); 204 when nobody waits."""
    _require_staff_of_counter(request, counter_id)
    now = clock.now()
    ticket = services.counter_call_next(counter_id=counter_id, now=now)
    if ticket is None:
        return Status(204, None)
    return _answer(TicketOut, ticket_view(ticket, now))


@router.post("/counters/{counter_id}/recall", response={200: TicketOut, **ERRORS}, auth=bearer)
def counters_recall(request: HttpRequest, counter_id: int) -> TicketOut:
    """Announce the called ticket again (at most HALLQ_RECALL_LIMIT times)."""
    return _ticket_action(services.counter_recall, request, counter_id)


@router.post("/counters/{counter_id}/start", response={200: TicketOut, **ERRORS}, auth=bearer)
def counters_start(request: HttpRequest, counter_id: int) -> TicketOut:
    """The called citizen has arrived: start serving."""
    return _ticket_action(services.counter_start, request, counter_id)


@router.post("/counters/{counter_id}/finish", response={200: TicketOut, **ERRORS}, auth=bearer)
def counters_finish(request: HttpRequest, counter_id: int) -> TicketOut:
    """Finish the current ticket."""
    return _ticket_action(services.counter_finish, request, counter_id)


@router.post("/counters/{counter_id}/no-show", response={200: TicketOut, **ERRORS}, auth=bearer)
def counters_no_show(request: HttpRequest, counter_id: int) -> TicketOut:
    """Mark the called ticket as a no-show (过号)."""
    return _ticket_action(services.counter_no_show, request, counter_id)


class CounterStateOut(Schema):
    id: int
    number: int
    state: str
    staff: str | None


def _counter_state(counter: Counter) -> dict[str, Any]:
    return {
        "id": counter.pk,
        "number": counter.number,
        "state": counter.state,
        "staff": counter.staff.get_username() if counter.staff_id and counter.staff else None,
    }


def _counter_action(
    action: Callable[..., Counter], request: HttpRequest, counter_id: int, **extra: Any
) -> dict[str, Any]:
    _require_staff_of_counter(request, counter_id)
    counter = action(counter_id=counter_id, now=clock.now(), **extra)
    counter.refresh_from_db()
    return _counter_state(counter)


@router.post("/counters/{counter_id}/pause", response={200: CounterStateOut, **ERRORS}, auth=bearer)
def counters_pause(request: HttpRequest, counter_id: int) -> dict:
    """Pause the counter: it calls nobody until resumed."""
    return _counter_action(services.counter_pause, request, counter_id)


@router.post(
    "/counters/{counter_id}/resume", response={200: CounterStateOut, **ERRORS}, auth=bearer
)
def counters_resume(request: HttpRequest, counter_id: int) -> dict:
    """Resume a paused counter."""
    return _counter_action(services.counter_resume, request, counter_id)


@router.post("/counters/{counter_id}/open", response={200: CounterStateOut, **ERRORS}, auth=bearer)
def counters_open(request: HttpRequest, counter_id: int) -> dict:
    """Sign in at the counter and open it."""
    user_id = principal_of(request).user_id
    return _counter_action(services.counter_open, request, counter_id, staff_id=user_id)


@router.post("/counters/{counter_id}/close", response={200: CounterStateOut, **ERRORS}, auth=bearer)
def counters_close(request: HttpRequest, counter_id: int) -> dict:
    """Sign out and close the counter."""
    return _counter_action(services.counter_close, request, counter_id)


class TransferIn(Schema):
    service_id: int
    keep_place: bool = True


@router.post("/tickets/{ticket_id}/transfer", response={200: TicketOut, **ERRORS}, auth=bearer)
def tickets_transfer(request: HttpRequest, ticket_id: int, body: TransferIn) -> dict:
    """Transfer a ticket to another service; it keeps its place by original issue time."""
    ticket = _staff_ticket(request, ticket_id)
    service = Service.objects.filter(pk=body.service_id, active=True).first()
    if service is None or service.hall_id != ticket.hall_id:
        raise InvalidInput(_("This hall has no such service."), code="unknown_service")
    now = clock.now()
    successor = services.ticket_transfer(
        ticket=ticket, service=service, now=now, keep_place=body.keep_place
    )
    return ticket_view(load_ticket(successor.pk) or successor, now)


@router.post("/tickets/{ticket_id}/reinstate", response={200: TicketOut, **ERRORS}, auth=bearer)
def tickets_reinstate(request: HttpRequest, ticket_id: int) -> dict:
    """Put a no-show ticket back at the head of its queue."""
    ticket = _staff_ticket(request, ticket_id)
    now = clock.now()
    ticket = services.ticket_reinstate(ticket=ticket, now=now)
    return ticket_view(load_ticket(ticket.pk) or ticket, now)


@router.get("/halls/{hall_id}/progress", response={200: HallProgress, **ERRORS}, auth=None)
def halls_progress(request: HttpRequest, hall_id: int) -> HallProgress:
    """Per service: now serving, waiting, open counters and the wait a new ticket faces."""
    hall = get_object_or_404(Hall, pk=hall_id)
    return hall_progress(hall=hall, now=clock.now())


class CallOut(Schema):
    ticket_id: int
    number: str
    service_id: int
    service_name: str
    counter_id: int | None
    counter_number: int | None
    counter_name: str | None
    state: str
    called_at: str | None


@router.get("/halls/{hall_id}/calls", response={200: list[CallOut], **ERRORS}, auth=None)
def halls_calls(request: HttpRequest, hall_id: int) -> list[dict]:
    """Today's latest calls, newest first: what the display board shows."""
    hall = get_object_or_404(Hall, pk=hall_id)
    return calls_view(hall, clock.now())


# --- event streams -------------------------------------------------------------------------


@db_read
def hall_snapshot(hall_id: int, seq: int) -> bytes:
    hall = Hall.objects.get(pk=hall_id)
    now = clock.now()
    data = {"seq": seq, "progress": progress_view(hall, now), "calls": calls_view(hall, now)}
    return sse("snapshot", data, seq)


@db_read
def hall_exists(hall_id: int) -> bool:
    return Hall.objects.filter(pk=hall_id).exists()


SSE_DOC = {
    200: {
        "description": "text/event-stream: `snapshot` first (or the events missed since "
        "Last-Event-ID), then every event with its per-hall `id`.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/halls/{hall_id}/events",
    auth=None,
    response={200: None, 404: None},
    openapi_extra={"responses": SSE_DOC},
)
async def halls_events(request: HttpRequest, hall_id: int) -> HttpResponseBase:
    """Server-sent events of a hall (public: numbers and counters, no personal data).

    Reconnect with `Last-Event-ID` (or `?last_event_id=`) to receive every event missed."""
    exists = await hall_exists(hall_id)
    if not exists:
        return HttpResponse(status=404)
    after = last_event_id(request)

    async def stream() -> AsyncIterator[bytes]:
        yield await prelude()
        async for item in hall_messages(hall_id, after, lambda seq: hall_snapshot(hall_id, seq)):
            yield item if isinstance(item, bytes) else item.sse

    return sse_response(stream())


@db_read
def ticket_for_stream(request: HttpRequest, ticket_id: int, token: str | None) -> Ticket:
    return _ticket_for(request, ticket_id, token)


@router.get(
    "/tickets/{ticket_id}/events",
    auth=None,
    response={200: None, 403: None, 404: None},
    openapi_extra={"responses": SSE_DOC},
)
async def tickets_events(
    request: HttpRequest, ticket_id: int, token: str | None = None
) -> HttpResponseBase:
    """Server-sent `ticket` events: the ticket's state, people ahead and estimated wait, sent
    whenever they change. The first event is the current state, also after a reconnect."""
    try:
        ticket = await ticket_for_stream(request, ticket_id, token)
    except NotFound:
        return HttpResponse(status=404)
    except Forbidden:
        return HttpResponse(status=403)

    async def stream() -> AsyncIterator[bytes]:
        yield await prelude()
        async for chunk in ticket_stream(ticket.pk, ticket.hall_id):
            yield chunk

    return sse_response(stream())


__all__ = ["StreamingHttpResponse", "router"]
