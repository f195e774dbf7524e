"""Binding tickets and citizens to WeChat users (§6). Each call is one transaction.

A ticket is bound by one conditional update that matches only a ticket still in the queue and
not bound to someone else; binding it again to the same user changes nothing. A WeChat user is
bound to a citizen by an upsert on its unique openid.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from hallq.citizens.models import Citizen, CitizenWechat
from hallq.citizens.services import citizen_token_issue
from hallq.common.errors import Conflict, NotFound
from hallq.officialaccount.pushes import pre_calls_enqueue
from hallq.queueing.models import Ticket, TicketState
from hallq.queueing.tokens import ticket_token, ticket_token_valid

# A ticket is worth binding while it can still be called (a called ticket can be recalled).
BINDABLE_STATES = (TicketState.WAITING, TicketState.CALLED)
SCENE_PREFIX = "t"


def ticket_scene(ticket_id: int) -> str:
    """The scene of a ticket's parametric QR code: ``t.<id>.<token>`` (at most 45 characters;
    WeChat allows 64). The token makes it unforgeable."""
    return f"{SCENE_PREFIX}.{ticket_id}.{ticket_token(ticket_id)}"


def ticket_id_from_scene(scene: str) -> int | None:
    """The ticket a scene names, or None when it is not a genuine ticket scene."""
    prefix, _dot, rest = scene.partition(".")
    ticket_id, _dot, token = rest.partition(".")
    if prefix != SCENE_PREFIX or not ticket_id.isdigit() or len(ticket_id) > 18:
        return None
    return int(ticket_id) if ticket_token_valid(int(ticket_id), token) else None


@transaction.atomic
def ticket_bind(*, ticket_id: int, openid: str, now: datetime) -> Ticket:
    """Bind a ticket to the WeChat user who scanned its QR code or opened its page, so that its
    pre-call and call reach them. The user's citizen, when bound, becomes the ticket's citizen
    unless it has one (an appointment's).

    When the ticket is already within its pre-call distance, its pre-call is enqueued now.
    """
    citizen_id = (
        CitizenWechat.objects.filter(openid=openid).values_list("citizen_id", flat=True).first()
    )
    bindable = Ticket.objects.filter(pk=ticket_id, state__in=BINDABLE_STATES).filter(
        Q(owner_openid="") | Q(owner_openid=openid)
    )
    changed = bindable.update(owner_openid=openid)
    if changed and citizen_id is not None:
        Ticket.objects.filter(pk=ticket_id, owner_citizen_id=None).update(
            owner_citizen_id=citizen_id
        )
    ticket = Ticket.objects.select_related("service").filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(_("No such ticket."))
    if not changed:
        if ticket.state not in BINDABLE_STATES:
            raise Conflict(
                _("Ticket %(number)s is no longer in the queue.") % {"number": ticket.number},
                code="ticket_not_in_queue",
            )
        raise Conflict(
            _("Ticket %(number)s is already bound to another WeChat user.")
            % {"number": ticket.number},
            code="ticket_bound_elsewhere",
        )
    pre_calls_enqueue(
        hall_id=ticket.hall_id, service_ids=[ticket.service_id], now=now, ticket_ids={ticket.pk}
    )
    return ticket


@transaction.atomic
def ticket_pre_call_distance_set(*, ticket_id: int, distance: int, now: datetime) -> Ticket:
    """The citizen's own pre-call distance (the interface checks 1–20). A ticket already within
    the new distance gets its pre-call now."""
    changed = Ticket.objects.filter(pk=ticket_id, state=TicketState.WAITING).update(
        pre_call_distance=distance
    )
    ticket = Ticket.objects.select_related("service").filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(_("No such ticket."))
    if not changed:
        raise Conflict(
            _("The pre-call distance can be set only while the ticket is waiting."),
            code="ticket_not_waiting",
        )
    pre_calls_enqueue(
        hall_id=ticket.hall_id, service_ids=[ticket.service_id], now=now, ticket_ids={ticket.pk}
    )
    return ticket


def citizen_wechat_bind(*, citizen_id: int, openid: str, now: datetime) -> None:
    """Bind a WeChat user (never a snapshot-page user: the interface receives no proof for one)
    to a citizen. A WeChat user already bound to another citizen moves to this one: whoever holds
    the WeChat account and signs in by SMS decides whom it signs in as."""
    CitizenWechat.objects.bulk_create(
        [CitizenWechat(openid=openid, citizen_id=citizen_id, bound_at=now)],
        update_conflicts=True,
        unique_fields=["openid"],
        update_fields=["citizen", "bound_at"],
    )


def citizen_wechat_unbind(*, citizen_id: int) -> int:
    """Forget every WeChat user bound to the citizen (they withdraw it); how many there were."""
    deleted, _by_model = CitizenWechat.objects.filter(citizen_id=citizen_id).delete()
    return deleted


def sign_in_by_wechat(*, openid: str, now: datetime) -> tuple[Citizen, str]:
    """A citizen token for the citizen this WeChat user is bound to."""
    binding = CitizenWechat.objects.select_related("citizen").filter(openid=openid).first()
    if binding is None:
        raise NotFound(
            _("This WeChat account is not bound to anyone yet: sign in by SMS first."),
            code="wechat_not_bound",
        )
    return binding.citizen, citizen_token_issue(citizen=binding.citizen, now=now)
