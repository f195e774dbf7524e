"""The citizen's pages on a phone (§7): booking step by step, my appointments, my ticket, the
halls near me, the booking QR.

Each booking step has its own address, so a step can be linked to and survives a reload; the
token from the SMS sign-in lives in the browser (localStorage ``hallq.citizen.token``) and the
pages' scripts send it to /api/v1. These views only check that the hall or service in the
address exists: what a citizen may see and do is decided by the API.
"""

from __future__ import annotations

import io

import segno
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from hallq.halls.models import Hall, Service
from hallq.web.views import COMMON_MESSAGES, SERVICE_MESSAGES, STATE_MESSAGES
from hallq.wechat.client import wechat_configured

CITIZEN_MESSAGES = {
    **COMMON_MESSAGES,
    "code_sent": _("A code has been sent to %(mobile)s. It is valid for 5 minutes."),
    "resend_in": _("Resend in %(seconds)s s"),
    "send_code": _("Get a code"),
    "signing_in": _("Signing in…"),
    "wechat_signing_in": _("Signing in with WeChat…"),
    "wechat_not_bound": _(
        "First time with WeChat: sign in once with your mobile number. From then on, WeChat "
        "signs you in."
    ),
    "wechat_snapshot": _("Please open this page in WeChat to sign in with WeChat."),
    "wechat_failed": _("WeChat could not confirm who you are. Please sign in with your mobile."),
    "saving": _("Saving…"),
    "booking": _("Booking…"),
    "cancelling": _("Cancelling…"),
    "loading": _("Loading…"),
    "remaining": _("%(count)s left"),
    "full": _("Full"),
    "opens_at_long": _("Bookings for this day open at %(time)s on %(date)s."),
    "closed": _("Closed"),
    "not_open": _("Not open"),
    "no_slots_left": _("Every time slot of this day is booked. Please choose another day."),
    "no_days": _("This service has no day open for booking at the moment."),
    "bookable_only_on_site": _("Walk-in only: take a ticket at the hall"),
    "book_this": _("Book"),
    "read_guide": _("Service guide"),
    "no_bookable_services": _("This hall takes no appointments online."),
    "no_halls": _("No hall takes appointments yet."),
    "time_range": _("%(start)s–%(end)s"),
    "check_in_window": _("Check in at the hall's kiosk between %(opens)s and %(closes)s."),
    "cancel_until": _("You can cancel until %(time)s."),
    "late_cancel_warning": _(
        "The cancellation deadline has passed: cancelling now counts as a missed appointment."
    ),
    "cancelled_done": _("The appointment is cancelled and its place is free for others."),
    "no_appointments": _("You have no appointments yet."),
    "blacklisted_until": _("You cannot book online until %(date)s because of missed appointments."),
    "slot_gone": _("This time slot is no longer offered. Please choose another time."),
    "ticket_number": _("Your ticket: %(number)s"),
    "booking_code": _("Booking code"),
    "details": _("Details"),
    "cancel_appointment": _("Cancel appointment"),
    "cancel_question": _("Cancel this appointment? Its place goes to someone else at once."),
    "cancel_confirm": _("Yes, cancel it"),
    "keep_appointment": _("No, keep it"),
    "appointment_state_booked": pgettext_lazy("appointment state", "Booked"),
    "appointment_state_checked_in": pgettext_lazy("appointment state", "Checked in"),
    "appointment_state_done": pgettext_lazy("appointment state", "Done"),
    "appointment_state_cancelled": pgettext_lazy("appointment state", "Cancelled"),
    "appointment_state_no_show": pgettext_lazy("appointment state", "Missed (no-show)"),
}

MY_TICKET_MESSAGES = {
    **COMMON_MESSAGES,
    **STATE_MESSAGES,
    "loading": _("Loading…"),
    "ticket_of_service": _("%(service)s · %(hall)s"),
    "follow_ticket": _("Follow this ticket"),
}

NEARBY_MESSAGES = {
    **COMMON_MESSAGES,
    **SERVICE_MESSAGES,
    "locating": _("Finding where you are…"),
    "sorted_by_distance": _("Nearest first."),
    "location_unavailable": _(
        "Your position is not available, so the halls are listed by name. Allow this page to "
        "use your location to see the nearest first."
    ),
    "distance_meters": _("%(meters)s m"),
    "distance_kilometres": _("%(kilometres)s km"),
    "open_counters": _("Open counters: %(count)s"),
    "navigate": _("Navigate"),
    "other_maps": _("Other maps"),
    "amap": _("Amap"),
    "tencent_map": _("Tencent Maps"),
    "baidu_map": _("Baidu Maps"),
    "queue_progress": _("Queue progress"),
    "no_halls_yet": _("No hall has been set up yet."),
}

BOOKING_STEPS = ("sign-in", "register", "agreement", "halls", "services", "slots", "confirm")
# The steps of choosing, as numbered in the page's progress bar.
CHOICE_STEPS = {"halls": 1, "services": 2, "slots": 3, "confirm": 4}


def _book_page(
    request: HttpRequest, step: str, hall: Hall | None = None, service: Service | None = None
) -> HttpResponse:
    assert step in BOOKING_STEPS
    context = {
        "step": step,
        "hall": hall,
        "service": service,
        "progress": CHOICE_STEPS.get(step, 0),
        "time_zone": hall.time_zone if hall is not None else settings.TIME_ZONE,
        "js_messages": CITIZEN_MESSAGES,
        # The sign-in step offers WeChat when the official account is configured.
        "wechat": wechat_configured(),
    }
    return render(request, "web/book.html", context)


def book(request: HttpRequest, step: str = "halls") -> HttpResponse:
    """Sign-in, registration, the agreement and the choice of a hall."""
    return _book_page(request, step)


def book_hall(request: HttpRequest, hall_id: int) -> HttpResponse:
    """The hall's services with their guides."""
    return _book_page(request, "services", hall=get_object_or_404(Hall, pk=hall_id))


def book_service(
    request: HttpRequest, hall_id: int, service_id: int, step: str = "slots"
) -> HttpResponse:
    """The days and slots of a service, then the confirmation of the chosen slot."""
    service = get_object_or_404(
        Service.objects.select_related("hall"), pk=service_id, hall_id=hall_id, active=True
    )
    return _book_page(request, step, hall=service.hall, service=service)


def my_appointments(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/me.html",
        {"time_zone": settings.TIME_ZONE, "js_messages": CITIZEN_MESSAGES},
    )


def my_ticket(request: HttpRequest) -> HttpResponse:
    """The official account's "my ticket": today's tickets of the signed-in citizen; with one
    ticket in the queue, its script goes straight to that ticket's live page."""
    return render(request, "web/my_ticket.html", {"js_messages": MY_TICKET_MESSAGES})


def halls_nearby(request: HttpRequest) -> HttpResponse:
    """The halls sorted by distance from the phone, with how busy each is and a button that
    opens navigation in a map app. The position never leaves the phone: the script sorts."""
    return render(request, "web/halls_nearby.html", {"js_messages": NEARBY_MESSAGES})


def appointment(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """One appointment of the signed-in citizen, with its booking code and QR code; the script
    fetches it with the citizen's token, so the page itself holds nothing personal."""
    return render(
        request,
        "web/appointment.html",
        {
            "appointment_id": appointment_id,
            "time_zone": settings.TIME_ZONE,
            "js_messages": CITIZEN_MESSAGES,
        },
    )


def booking_qr(request: HttpRequest, code: str) -> HttpResponse:
    """The QR code of a booking code, for the kiosk's scanner.

    It encodes the code and nothing else, and is drawn for any ten digits without looking the
    code up, so it tells nobody whether a booking exists.
    """
    # A full QR code: segno.make would pick a Micro QR for ten digits, which many scanners
    # cannot read.
    qr = segno.make_qr(code, error="m")
    svg = io.BytesIO()
    qr.save(svg, kind="svg", border=2, xmldecl=False, omitsize=True, light="#fff")
    response = HttpResponse(svg.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=86400"
    return response
