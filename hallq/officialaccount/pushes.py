"""The queue's pushes to ticket owners (§5): pre-call, call, recall, no-show, evaluation.

A consumer of each hall's event log. Per hall, the worker that wins the hall's cursor
(``locks.claim_push_cursor``) reads the events after it, enqueues their notifications and
advances the cursor in one transaction: a crash loses nothing (the cursor did not move) and a
second pass sends nothing twice (a notification is unique per ticket, kind and occurrence).

Only tickets with an owner are told anything: the WeChat user who bound the ticket
(``owner_openid``) and the citizen it belongs to (``owner_citizen_id``: an appointment's
citizen, whose mobile number is the SMS fallback and whose bound WeChat user is told when
nobody bound the ticket itself).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery

from hallq.citizens.models import Citizen, CitizenWechat
from hallq.common import clock
from hallq.halls.models import Hall
from hallq.notifications.models import NotificationKind, SubjectType
from hallq.notifications.services import notification_enqueue
from hallq.notifications.texts import TEMPLATE_FIELD_LIMIT, fit
from hallq.officialaccount import locks
from hallq.officialaccount.models import PushCursor
from hallq.queueing.domain.calling import people_ahead_all
from hallq.queueing.models import Ticket, TicketState
from hallq.queueing.selectors import waiting_tickets
from hallq.queueing.views import ticket_url
from hallq.realtime.models import Event, HallEventCounter

logger = logging.getLogger(__name__)

PUSHED_EVENTS = {
    "ticket.called": NotificationKind.CALL,
    "ticket.recalled": NotificationKind.RECALL,
    "ticket.no_show": NotificationKind.NO_SHOW,
    "ticket.done": NotificationKind.EVALUATION,
}
# A push this late tells the citizen nothing useful (the worker was down): it is not sent.
FRESH_FOR = {
    NotificationKind.CALL: timedelta(minutes=10),
    NotificationKind.RECALL: timedelta(minutes=10),
    NotificationKind.NO_SHOW: timedelta(hours=1),
    NotificationKind.EVALUATION: timedelta(days=1),
}
EVENTS_PER_TRANSACTION = 500
# The largest pre-call distance a citizen may choose (the ticket page offers 1–20).
MAX_PRE_CALL_DISTANCE = 20
# How often the dedicated loop looks for new events.
POLL_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class Recipient:
    openid: str
    mobile: str


def queue_pushes_run(*, now: datetime, batch: int = EVENTS_PER_TRANSACTION) -> int:
    """Handle every hall's new events; returns how many notifications were enqueued.

    Several workers may run it at once: each hall is handled by one of them at a time.
    """
    enqueued = 0
    for hall_id, has_cursor in _halls_behind():
        if not has_cursor:
            PushCursor.objects.bulk_create([PushCursor(hall_id=hall_id)], ignore_conflicts=True)
        enqueued += _hall_run(hall_id, now, batch)
    return enqueued


def run_queue_pushes(stop: threading.Event) -> None:
    """The pushes as their own loop (in ``hallq worker`` and ``make run``), a few times a second:
    a call message should reach the citizen while they can still hear the hall's speakers."""
    while not stop.is_set():
        try:
            queue_pushes_run(now=clock.now())
        except Exception:
            logger.exception("queue pushes failed; trying again")
        finally:
            close_old_connections()
        _woken.wait(POLL_SECONDS)
        _woken.clear()


# Set when this process commits a queue event, so the loop here runs at once rather than at its
# next poll (a worker in another process polls).
_woken = threading.Event()


def wake() -> None:
    _woken.set()


def _halls_behind() -> list[tuple[int, bool]]:
    """The halls whose log has events the pushes have not handled (one query)."""
    handled = PushCursor.objects.filter(hall_id=OuterRef("hall_id")).values("last_seq")[:1]
    rows = (
        HallEventCounter.objects.annotate(handled=Subquery(handled))
        .filter(Q(handled__isnull=True) | Q(last_seq__gt=F("handled")))
        .values_list("hall_id", "handled")
    )
    return [(hall_id, handled is not None) for hall_id, handled in rows]


def _hall_run(hall_id: int, now: datetime, batch: int) -> int:
    enqueued = 0
    while True:
        with transaction.atomic():
            cursor = locks.claim_push_cursor(hall_id)
            if cursor is None:
                return enqueued
            unread = Event.objects.filter(hall_id=hall_id, seq__gt=cursor.last_seq)
            events = list(unread.order_by("seq")[:batch])
            if not events:
                return enqueued
            enqueued += _push_events(hall_id, events, now)
            PushCursor.objects.filter(pk=hall_id).update(last_seq=events[-1].seq)
        if len(events) < batch:
            return enqueued


def _push_events(hall_id: int, events: list[Event], now: datetime) -> int:
    for event in events:
        if event.kind == "ticket.transferred":
            _owner_follows_transfer(event)
    ticket_ids = {e.ticket_id for e in events if e.kind in PUSHED_EVENTS and e.ticket_id}
    tickets = _owned_tickets(ticket_ids)
    recipients = _recipients(tickets.values())
    # Which time a ticket has this event (calls and no-shows repeat after a reinstatement,
    # recalls are numbered from 1): what came before this batch in one query, then counted on.
    seen = Counter(
        {
            (ticket_id, kind): count
            for ticket_id, kind, count in Event.objects.filter(
                hall_id=hall_id,
                ticket_id__in=list(tickets),
                kind__in=list(PUSHED_EVENTS),
                seq__lt=events[0].seq,
            )
            .values("ticket_id", "kind")
            .annotate(count=Count("pk"))
            .values_list("ticket_id", "kind", "count")
        }
    )
    enqueued = 0
    for event in events:
        kind = PUSHED_EVENTS.get(event.kind)
        if kind is None or event.ticket_id not in tickets:
            continue
        earlier = seen[event.ticket_id, event.kind]
        seen[event.ticket_id, event.kind] += 1
        if now - event.created_at > FRESH_FOR[kind]:
            continue
        ticket = tickets[event.ticket_id]
        if kind == NotificationKind.CALL:
            # A queue that moves faster than these rounds can call a ticket that never sat
            # within its distance when a round looked: its pre-call goes now, just before the
            # call (one person's messages are delivered in the order written). Nothing if it
            # had one already.
            enqueued += _pre_call_enqueue(ticket, recipients[ticket.pk], 0, hall_id, now)
        enqueued += notification_enqueue(
            subject_type=SubjectType.TICKET,
            subject_id=ticket.pk,
            kind=kind,
            occurrence=earlier + 1 if kind is NotificationKind.RECALL else earlier,
            hall_id=hall_id,
            openid=recipients[ticket.pk].openid,
            mobile=recipients[ticket.pk].mobile,
            data=_event_data(ticket, event.payload),
            now=now,
        )
    touched = {e.service_id for e in events if e.service_id is not None}
    if touched:
        enqueued += pre_calls_enqueue(hall_id=hall_id, service_ids=touched, now=now)
    return enqueued


def _owner_follows_transfer(event: Event) -> None:
    """A transferred ticket's successor keeps its owner: the citizen is still the same."""
    successor_id = event.payload.get("to_ticket_id")
    if successor_id is None or event.ticket_id is None:
        return
    owner = (
        Ticket.objects.filter(pk=event.ticket_id)
        .values_list("owner_openid", "owner_citizen_id")
        .first()
    )
    if owner is None or owner == ("", None):
        return
    openid, citizen_id = owner
    Ticket.objects.filter(pk=successor_id, owner_openid="", owner_citizen_id=None).update(
        owner_openid=openid, owner_citizen_id=citizen_id
    )


def pre_calls_enqueue(
    *,
    hall_id: int,
    service_ids: Iterable[int],
    now: datetime,
    ticket_ids: Collection[int] | None = None,
) -> int:
    """Enqueue the pre-call (叫号预备) of every owned waiting ticket of these services whose
    people ahead are now within its pre-call distance (its own, or the service's). Only the
    first time counts: a ticket has one pre-call.

    ``ticket_ids`` limits it to those tickets (one just bound, or its distance just changed).
    """
    zone = Hall.objects.get(pk=hall_id).zone
    waiting = waiting_tickets(
        hall_id=hall_id, service_date=now.astimezone(zone).date(), service_ids=service_ids
    )
    ahead = people_ahead_all(waiting, now)
    near = [
        ticket_id
        for ticket_id, count in ahead.items()
        if count <= MAX_PRE_CALL_DISTANCE and (ticket_ids is None or ticket_id in ticket_ids)
    ]
    tickets = _owned_tickets(near, state=TicketState.WAITING)
    recipients = _recipients(tickets.values())
    enqueued = 0
    for ticket in tickets.values():
        own = ticket.pre_call_distance
        distance = own if own is not None else ticket.service.pre_call_distance
        if ahead[ticket.pk] > distance:
            continue
        enqueued += _pre_call_enqueue(ticket, recipients[ticket.pk], ahead[ticket.pk], hall_id, now)
    return enqueued


def _pre_call_enqueue(
    ticket: Ticket, recipient: Recipient, ahead: int, hall_id: int, now: datetime
) -> bool:
    """A ticket's one pre-call (nothing if it had it already)."""
    return notification_enqueue(
        subject_type=SubjectType.TICKET,
        subject_id=ticket.pk,
        kind=NotificationKind.PRE_CALL,
        hall_id=hall_id,
        openid=recipient.openid,
        mobile=recipient.mobile,
        data={
            "number": ticket.number,
            "service": fit(ticket.service.name, TEMPLATE_FIELD_LIMIT),
            "ahead": str(ahead),
            **_link(ticket.pk),
        },
        now=now,
    )


def _owned_tickets(ticket_ids: Collection[int], state: str | None = None) -> dict[int, Ticket]:
    if not ticket_ids:
        return {}
    query = (
        Ticket.objects.filter(pk__in=list(ticket_ids))
        .exclude(owner_openid="", owner_citizen_id=None)
        .select_related("service")
    )
    if state is not None:
        query = query.filter(state=state)
    return {ticket.pk: ticket for ticket in query}


def _recipients(tickets: Iterable[Ticket]) -> dict[int, Recipient]:
    """Who hears about each ticket: its own WeChat user, else its citizen's latest bound one;
    the citizen's mobile number for SMS."""
    tickets = list(tickets)
    citizen_ids = {t.owner_citizen_id for t in tickets if t.owner_citizen_id is not None}
    mobiles: dict[int, str] = {}
    openids: dict[int, str] = {}
    if citizen_ids:
        mobiles = {c.pk: c.mobile for c in Citizen.objects.filter(pk__in=citizen_ids)}
        for citizen_id, openid in (
            CitizenWechat.objects.filter(citizen_id__in=citizen_ids)
            .order_by("bound_at", "pk")
            .values_list("citizen_id", "openid")
        ):
            openids[citizen_id] = openid
    recipients = {}
    for ticket in tickets:
        owner = ticket.owner_citizen_id
        recipients[ticket.pk] = Recipient(
            openid=ticket.owner_openid or (openids.get(owner, "") if owner else ""),
            mobile=mobiles.get(owner, "") if owner else "",
        )
    return recipients


def _event_data(ticket: Ticket, payload: dict[str, Any]) -> dict[str, str]:
    data = {
        "number": ticket.number,
        "service": fit(ticket.service.name, TEMPLATE_FIELD_LIMIT),
        **_link(ticket.pk),
    }
    counter_number = payload.get("counter_number")
    if counter_number is not None:
        data["counter"] = counter_label(counter_number, payload.get("counter_name") or "")
    return data


def counter_label(number: int, name: str) -> str:
    """How a message names the counter: "3号窗口", with its name when both fit on one line.
    Chinese only, like the templates registered with WeChat and the SMS vendor."""
    label = f"{number}号窗口"
    with_name = f"{label} {name}".strip()
    return with_name if len(with_name) <= TEMPLATE_FIELD_LIMIT else label


def _link(ticket_id: int) -> dict[str, str]:
    # Only an absolute link is any use in a message; without a public URL, none is sent.
    return {"url": ticket_url(ticket_id)} if settings.PUBLIC_URL else {}
