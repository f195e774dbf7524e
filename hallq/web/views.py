"""Server-rendered pages. They hold no logic of their own: their scripts call /api/v1.

Each page receives ``js_messages``: the translated strings its script shows, rendered into the
page as a JSON script element (there is no JavaScript catalogue). ``%(name)s`` placeholders are
filled in by ``Hallq.t()`` in hallq.js.
"""

from __future__ import annotations

import io

import segno
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from hallq.common import clock
from hallq.halls.models import Hall
from hallq.officialaccount.pushes import MAX_PRE_CALL_DISTANCE
from hallq.officialaccount.qr import ticket_wechat_qr
from hallq.officialaccount.services import BINDABLE_STATES
from hallq.queueing.models import Ticket, TicketState
from hallq.queueing.tokens import ticket_token_valid
from hallq.queueing.views import load_ticket, ticket_url
from hallq.wechat.client import wechat_configured

COMMON_MESSAGES = {
    "network_error": _("The network is unavailable. Please try again."),
    "server_error": _("Something went wrong on the server. Please try again."),
    "connected": _("Live"),
    "connecting": _("Reconnecting…"),
    "about_minutes": _("About %(minutes)s min"),
    "under_a_minute": _("Less than a minute"),
    "no_counter_open": _("No counter open yet"),
    "minutes": _("%(minutes)s min"),
    "hours_minutes": _("%(hours)s h %(minutes)s min"),
    "counter_label": _("Counter %(number)s"),
}

STATE_MESSAGES = {
    "state_waiting": pgettext_lazy("ticket state", "Waiting"),
    "state_called": pgettext_lazy("ticket state", "Called"),
    "state_serving": pgettext_lazy("ticket state", "Being served"),
    "state_done": pgettext_lazy("ticket state", "Done"),
    "state_no_show": pgettext_lazy("ticket state", "Missed (no-show)"),
    "state_transferred": pgettext_lazy("ticket state", "Transferred"),
    "state_cancelled": pgettext_lazy("ticket state", "Cancelled"),
    "state_expired": pgettext_lazy("ticket state", "Expired"),
}

SERVICE_MESSAGES = {
    "waiting_count": _("%(count)s waiting"),
    "idle": _("Idle — no booking needed"),
    "busy": _("%(count)s in the queue"),
}

KIOSK_MESSAGES = {
    **SERVICE_MESSAGES,
    "issuing": _("Printing your ticket…"),
    "returning": _("Back to services in %(seconds)s s"),
    "issued": _("Issued"),
    "appointment_time": _("Appointment time"),
    "appointment_service": _("%(service)s · appointment"),
    "scan_link": _("Scan with WeChat to follow your turn on your phone"),
    "scan_wechat": _("Scan with WeChat to be reminded before your call"),
}

DISPLAY_MESSAGES = {
    "waiting_count": _("%(count)s waiting"),
}

COUNTER_MESSAGES = {
    **STATE_MESSAGES,
    "band_reinstated": _("Reinstated"),
    "band_appointment_due": _("Appointment"),
    "band_walk_in": _("Walk-in"),
    "band_appointment_early": _("Early appointment"),
    "counter_open": pgettext_lazy("counter state", "Open"),
    "counter_paused": pgettext_lazy("counter state", "Paused"),
    "counter_closed": pgettext_lazy("counter state", "Closed"),
    "occupied_by": _("Signed in: %(staff)s"),
    "nobody_waiting": _("Nobody is waiting."),
    "no_current": _("No ticket at this counter. Call the next one."),
    "called_number": _("%(number)s called."),
    "recalled_number": _("%(number)s called again."),
    "serving_number": _("Serving %(number)s."),
    "finished_number": _("%(number)s finished."),
    "no_show_number": _("%(number)s marked as no-show."),
    "reinstated_number": _("%(number)s is back at the head of its queue."),
    "transferred_number": _("%(number)s transferred: new number %(new_number)s."),
    "paused": _("Counter paused: nobody will be called here."),
    "resumed": _("Counter open again."),
    "signed_out": _("Signed out and counter closed."),
    "counter_left": _("This counter was closed, or someone else signed in at it."),
    "session_expired": _("Your sign-in has expired. Please sign in again."),
    "waited": _("Waited %(duration)s"),
    "recalls": _("Recalled %(count)s times"),
    "issued_called": _("Issued %(issued)s · called %(called)s"),
    "no_counters": _("You do not work in any hall yet. Ask an administrator."),
    "reinstate": _("Reinstate"),
    "pause": _("Pause"),
    "resume": _("Resume"),
}

TICKET_MESSAGES = {
    **STATE_MESSAGES,
    "go_to_counter": _("Please go to counter %(number)s"),
    "called_again": _("You are being called again"),
    "serving_at": _("Being served at counter %(number)s"),
    "done_thanks": _("All done. Thank you for your patience!"),
    "no_show_help": _("Your number was called but you did not come. Please ask at a counter."),
    "expired_help": _("This ticket has expired. Please take a new one."),
    "cancelled_help": _("This ticket was cancelled."),
    "transferred_to": _("Transferred to %(number)s. Opening your new ticket…"),
    "almost": _("Almost your turn: please stay near the counters."),
    "alerts_on": _("Sound and vibration alerts are on"),
    "wechat_snapshot": _("Please open this page in WeChat to get call reminders there."),
    "wechat_failed": _("WeChat could not confirm who you are. Please try again."),
    "pre_call_saved": _("Saved: we remind you when %(count)s people are ahead of you."),
}

PROGRESS_MESSAGES = {**SERVICE_MESSAGES, "updated_at": _("Updated %(time)s")}


def index(request: HttpRequest) -> HttpResponse:
    halls = Hall.objects.select_related("organisation").order_by("pk")
    return render(request, "web/index.html", {"halls": halls})


def kiosk(request: HttpRequest, hall_id: int) -> HttpResponse:
    hall = get_object_or_404(Hall, pk=hall_id)
    messages = {**COMMON_MESSAGES, **KIOSK_MESSAGES}
    return render(request, "web/kiosk.html", {"hall": hall, "js_messages": messages})


def display(request: HttpRequest, hall_id: int) -> HttpResponse:
    hall = get_object_or_404(Hall, pk=hall_id)
    messages = {**COMMON_MESSAGES, **DISPLAY_MESSAGES}
    return render(request, "web/display.html", {"hall": hall, "js_messages": messages})


def counter(request: HttpRequest) -> HttpResponse:
    messages = {**COMMON_MESSAGES, **COUNTER_MESSAGES}
    return render(
        request,
        "web/counter.html",
        {"halls": Hall.objects.order_by("pk"), "js_messages": messages},
    )


def ticket(request: HttpRequest, ticket_id: int) -> HttpResponse:
    token = request.GET.get("token", "")
    if not ticket_token_valid(ticket_id, token):
        raise Http404
    found = load_ticket(ticket_id)
    if found is None:
        raise Http404
    messages = {**COMMON_MESSAGES, **TICKET_MESSAGES}
    context = {
        "ticket_id": ticket_id,
        "token": token,
        "hall": found.hall,
        "js_messages": messages,
        # Reminders are offered while they can still come (ticket_reminders.js follows the
        # state); binding needs the official account for its OAuth round trip.
        "in_queue": found.state in BINDABLE_STATES,
        "waiting": found.state == TicketState.WAITING,
        "wechat": wechat_configured(),
        "wechat_bound": bool(found.owner_openid),
        "pre_call_distance": pre_call_distance(found),
        "pre_call_choices": range(1, MAX_PRE_CALL_DISTANCE + 1),
    }
    return render(request, "web/ticket.html", context)


def pre_call_distance(ticket: Ticket) -> int:
    """The distance the ticket's pre-call uses (its own, or its service's), as the page's picker
    can show it (1–20)."""
    own = ticket.pre_call_distance
    distance = own if own is not None else ticket.service.pre_call_distance
    return min(max(distance, 1), MAX_PRE_CALL_DISTANCE)


def ticket_qr(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The QR code of a ticket's live page on a phone (the kiosk's fallback, see below)."""
    token = request.GET.get("token", "")
    if not ticket_token_valid(ticket_id, token):
        raise Http404
    response = qr_svg_response(ticket_url(ticket_id, request))
    response["Cache-Control"] = "private, max-age=86400"
    return response


def ticket_wechat_qr_svg(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The QR code printed on a ticket: the official account's parametric code, whose scan binds
    the ticket so the citizen is reminded before the call; the ticket's page when the account is
    not configured or WeChat cannot be reached. ``X-QR-Kind`` says which (``wechat`` | ``link``).

    Only a ticket's own code is drawn, for the holder of its token: this is not a QR code
    generator for any address.
    """
    token = request.GET.get("token", "")
    if not ticket_token_valid(ticket_id, token):
        raise Http404
    found = load_ticket(ticket_id)
    if found is None:
        raise Http404
    qr = ticket_wechat_qr(ticket=found, link=ticket_url(ticket_id, request), now=clock.now())
    response = qr_svg_response(qr.url)
    response["X-QR-Kind"] = qr.kind
    # The official account's code expires, and a link drawn while WeChat was away should not be
    # kept once it is back; the code itself is cached on the server (officialaccount.qr).
    response["Cache-Control"] = "no-store"
    return response


def qr_svg_response(content: str) -> HttpResponse:
    qr = segno.make(content, error="m")
    svg = io.BytesIO()
    # A standalone document (with its namespace) that scales to whatever size the page gives it.
    qr.save(svg, kind="svg", border=2, xmldecl=False, omitsize=True, light="#fff")
    return HttpResponse(svg.getvalue(), content_type="image/svg+xml")


def progress(request: HttpRequest) -> HttpResponse:
    halls = Hall.objects.select_related("organisation").order_by("pk")
    messages = {**COMMON_MESSAGES, **PROGRESS_MESSAGES}
    return render(request, "web/progress.html", {"halls": halls, "js_messages": messages})


def progress_hall(request: HttpRequest, hall_id: int) -> HttpResponse:
    hall = get_object_or_404(Hall, pk=hall_id)
    messages = {**COMMON_MESSAGES, **PROGRESS_MESSAGES}
    return render(request, "web/progress_hall.html", {"hall": hall, "js_messages": messages})
