"""What the API answers about slots and appointments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest

from hallq.booking.models import Appointment, AppointmentState
from hallq.booking.selectors import SlotAvailability
from hallq.queueing.tokens import ticket_token
from hallq.queueing.views import ticket_url
from hallq.scheduling.domain.window import cancel_deadline, check_in_window
from hallq.scheduling.selectors import booking_rules


def slot_view(slot: SlotAvailability) -> dict[str, Any]:
    return {
        "id": slot.slot_id,
        "starts_at": slot.starts_at,
        "ends_at": slot.ends_at,
        "quota": slot.quota,
        "remaining": slot.remaining if slot.is_open else 0,
        "is_open": slot.is_open,
    }


def appointment_view(
    appointment: Appointment, now: datetime, request: HttpRequest | None = None
) -> dict[str, Any]:
    rules = booking_rules(appointment.service_id)
    deadline = cancel_deadline(appointment.starts_at, cutoff=rules.cancel_cutoff)
    opens, closes = check_in_window(
        appointment.starts_at,
        appointment.ends_at,
        before=rules.check_in_before,
        after=rules.check_in_after,
    )
    ticket = appointment.ticket
    return {
        "id": appointment.pk,
        "booking_code": appointment.booking_code,
        "hall_id": appointment.hall_id,
        "hall_name": appointment.hall.name,
        "hall_address": appointment.hall.address,
        "service_id": appointment.service_id,
        "service_name": appointment.service.name,
        "date": appointment.date,
        "starts_at": appointment.starts_at,
        "ends_at": appointment.ends_at,
        "state": appointment.state,
        "state_label": appointment.get_state_display(),
        "channel": appointment.channel,
        "created_at": appointment.created_at,
        "cancel_deadline": deadline,
        "cancellable": appointment.state == AppointmentState.BOOKED and now < appointment.starts_at,
        "late_cancellation": rules.cancel_cutoff.total_seconds() > 0 and now > deadline,
        "check_in_opens_at": opens,
        "check_in_closes_at": closes,
        "ticket": None
        if ticket is None
        else {
            "id": ticket.pk,
            "number": ticket.number,
            "state": ticket.state,
            "token": ticket_token(ticket.pk),
            "url": ticket_url(ticket.pk, request),
        },
    }
