"""Read models of tickets and counters as the API and pages present them."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from hallq.halls.models import Counter, Hall
from hallq.queueing.domain.calling import calling_order
from hallq.queueing.models import Ticket, TicketState
from hallq.queueing.selectors import (
    QueueSnapshot,
    counter_active_ticket,
    counter_policy,
    hall_progress,
    queue_snapshot,
    recent_calls,
    waiting_tickets,
)
from hallq.queueing.tokens import ticket_token


def ticket_url(ticket_id: int, request: HttpRequest | None = None) -> str:
    path = reverse("web:ticket", args=[ticket_id]) + f"?token={ticket_token(ticket_id)}"
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL + path
    return request.build_absolute_uri(path) if request is not None else path


def ticket_view(
    ticket: Ticket,
    now: datetime,
    snapshot: QueueSnapshot | None = None,
    position: tuple[int, int | None] | None = None,
) -> dict[str, Any]:
    """A ticket with its live position.

    ``snapshot`` shares one queue read among many tickets; ``position`` (people ahead, estimated
    wait) is given when the caller has just computed it, as issuing does.
    """
    ahead: int | None = None
    estimate: int | None = None
    if position is not None:
        ahead, estimate = position
    elif ticket.state == TicketState.WAITING:
        if snapshot is None:
            snapshot = queue_snapshot(hall=ticket.hall, now=now, service_ids=[ticket.service_id])
        ahead = snapshot.people_ahead(ticket.pk)
        estimate = snapshot.estimate(ticket.pk, ticket.service_id)
    successor = None
    if ticket.state == TicketState.TRANSFERRED:
        following = Ticket.objects.filter(transferred_from=ticket).first()
        if following is not None:
            successor = {
                "id": following.pk,
                "number": following.number,
                "token": ticket_token(following.pk),
            }
    counter = ticket.counter
    return {
        "id": ticket.pk,
        "hall_id": ticket.hall_id,
        "number": ticket.number,
        "service_id": ticket.service_id,
        "service_name": ticket.service.name,
        "state": ticket.state,
        "kind": ticket.kind,
        "channel": ticket.channel,
        "people_ahead": ahead,
        "estimated_wait_seconds": estimate,
        "counter_id": ticket.counter_id,
        "counter_number": counter.number if counter else None,
        "counter_name": counter.name if counter else None,
        "issued_at": ticket.issued_at,
        "called_at": ticket.called_at,
        "recall_count": ticket.recall_count,
        "transferred_to": successor,
    }


def load_ticket(ticket_id: int) -> Ticket | None:
    return Ticket.objects.select_related("hall", "service", "counter").filter(pk=ticket_id).first()


def counter_view(counter: Counter, now: datetime) -> dict[str, Any]:
    """The counter page's state: its current ticket and the queue it calls from, in order."""
    policy = counter_policy(counter)
    hall = counter.hall
    service_date = now.astimezone(hall.zone).date()
    waiting = waiting_tickets(
        hall_id=hall.pk, service_date=service_date, service_ids=policy.service_ids
    )
    ordered = calling_order(waiting, now, policy)
    numbers = dict(
        Ticket.objects.filter(pk__in=[t.id for t in ordered[:50]]).values_list("pk", "number")
    )
    services = {s.pk: s.name for s in counter.services.all()}
    current = counter_active_ticket(counter)
    no_shows = (
        Ticket.objects.filter(
            hall=hall,
            service_date=service_date,
            state=TicketState.NO_SHOW,
            service_id__in=policy.service_ids,
        )
        .select_related("service")
        .order_by("-finished_at")[:20]
    )
    return {
        "id": counter.pk,
        "hall_id": hall.pk,
        "number": counter.number,
        "name": counter.name,
        "state": counter.state,
        "staff": counter.staff.get_username() if counter.staff else None,
        "service_ids": list(policy.service_ids),
        "current": ticket_view(current, now) if current else None,
        "waiting_count": len(ordered),
        "waiting": [
            {
                "id": t.id,
                "number": numbers.get(t.id, ""),
                "service_id": t.service_id,
                "service_name": services.get(t.service_id, ""),
                "kind": t.kind.value,
                "band": t.band(now).name.lower(),
                "waited_seconds": max(0, int((now - t.queue_time).total_seconds())),
            }
            for t in ordered[:50]
        ],
        # Today's no-shows of the counter's services, newest first, for staff to reinstate.
        "no_shows": [
            {
                "id": t.pk,
                "number": t.number,
                "service_id": t.service_id,
                "service_name": t.service.name,
                "at": t.finished_at,
            }
            for t in no_shows
        ],
    }


def progress_view(hall: Hall, now: datetime) -> dict[str, Any]:
    return asdict(hall_progress(hall=hall, now=now))


def calls_view(hall: Hall, now: datetime, limit: int = 10) -> list[dict[str, Any]]:
    return [
        {
            "ticket_id": t.pk,
            "number": t.number,
            "service_id": t.service_id,
            "service_name": t.service.name,
            "counter_id": t.counter_id,
            "counter_number": t.counter.number if t.counter else None,
            "counter_name": t.counter.name if t.counter else None,
            "state": t.state,
            "called_at": t.called_at.isoformat() if t.called_at else None,
        }
        for t in recent_calls(hall=hall, now=now, limit=limit)
    ]
