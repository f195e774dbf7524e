"""Tickets and their daily numbering (§2 Ticket, §4)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from hallq.queueing.domain.model import TicketKind


class TicketState(models.TextChoices):
    WAITING = "waiting", _("waiting")
    CALLED = "called", _("called")
    SERVING = "serving", _("serving")
    DONE = "done", _("done")
    NO_SHOW = "no_show", _("no-show")
    TRANSFERRED = "transferred", _("transferred")
    CANCELLED = "cancelled", _("cancelled")
    EXPIRED = "expired", _("expired")


ACTIVE_AT_COUNTER = (TicketState.CALLED, TicketState.SERVING)

# Called in issue order among themselves, unless reinstated (§4.3).
PLAIN_WALK_IN_KINDS = (TicketKind.WALK_IN.value, TicketKind.REMOTE.value)


class Channel(models.TextChoices):
    KIOSK = "kiosk", _("kiosk")
    REMOTE = "remote", _("remote")
    APPOINTMENT = "appointment", _("appointment check-in")
    COUNTER = "counter", _("counter")
    API = "api", _("API")


class TicketSequence(models.Model):
    """The last number given out per hall, service and hall-local day."""

    hall = models.ForeignKey("halls.Hall", on_delete=models.CASCADE)
    service = models.ForeignKey("halls.Service", on_delete=models.CASCADE)
    service_date = models.DateField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "service_date"], name="ticket_sequence_unique_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.service_date}: {self.last_number}"


class Ticket(models.Model):
    # No index of their own: ticket_queue begins with the hall, ticket_number_unique_per_day and
    # ticket_service_finished with the service, and every call and start writes each index of
    # the row again (a state change is never a heap-only update).
    hall = models.ForeignKey(
        "halls.Hall", on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    service = models.ForeignKey(
        "halls.Service", on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    service_date = models.DateField()
    sequence = models.PositiveIntegerField()
    number = models.CharField(max_length=8)
    kind = models.CharField(
        max_length=12, choices=[(k.value, k.value) for k in TicketKind], default=TicketKind.WALK_IN
    )
    channel = models.CharField(max_length=12, choices=Channel.choices)
    state = models.CharField(
        max_length=12, choices=TicketState.choices, default=TicketState.WAITING
    )
    counter = models.ForeignKey(
        "halls.Counter", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )

    issued_at = models.DateTimeField()
    # The calling order's "first come" time: the original issue time, kept across transfers.
    queue_time = models.DateTimeField()
    slot_start = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    reinstated_at = models.DateTimeField(null=True, blank=True)
    called_at = models.DateTimeField(null=True, blank=True)
    serving_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    recall_count = models.PositiveSmallIntegerField(default=0)
    service_seconds = models.PositiveIntegerField(null=True, blank=True)

    transferred_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="transferred_to"
    )
    pre_call_distance = models.PositiveSmallIntegerField(null=True, blank=True)
    # Who hears about this ticket (§5, §6): the WeChat user who bound it by scanning its QR code or
    # from its page, and the citizen it belongs to (an appointment's citizen, or the bound WeChat
    # user's). An id, not a foreign key: citizens is a sibling context.
    # A database default too: tickets written by other means than the ORM (imports, the bench)
    # have no owner.
    owner_openid = models.CharField(max_length=64, blank=True, default="", db_default="")
    owner_citizen_id = models.BigIntegerField(null=True, blank=True)
    # What we told the citizen at issue, compared later with what happened (§9).
    people_ahead_at_issue = models.PositiveIntegerField(default=0)
    estimated_wait_at_issue = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "service_date", "sequence"], name="ticket_number_unique_per_day"
            ),
            models.UniqueConstraint(
                fields=["counter"],
                condition=Q(state__in=["called", "serving"]),
                name="one_active_ticket_per_counter",
            ),
        ]
        indexes = [
            models.Index(fields=["hall", "state", "service"], name="ticket_queue"),
            models.Index(fields=["service", "finished_at"], name="ticket_service_finished"),
            # The head of each service's walk-in queue, read by every call (call_candidates).
            models.Index(
                fields=["service", "service_date", "queue_time", "id"],
                condition=Q(state="waiting"),
                name="ticket_waiting_in_order",
            ),
            # The few waiting tickets that are not plain walk-ins in issue order (appointments,
            # reinstated no-shows), read by every call beside the heads: without it that read
            # went through every waiting ticket of the counter's services.
            models.Index(
                fields=["service", "service_date"],
                condition=Q(state="waiting")
                & (~Q(kind__in=PLAIN_WALK_IN_KINDS) | Q(reinstated_at__isnull=False)),
                name="ticket_waiting_priority",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.state})"
