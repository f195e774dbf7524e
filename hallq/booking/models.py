"""Bookable slots, their places, appointments (§2 Appointment, §3.5–3.8).

A slot's quota is enforced by its *place rows*: a slot of quota 10 has ten ``SlotPlace`` rows,
and a booking claims a free one (``SELECT … FOR UPDATE SKIP LOCKED``, then an update). Bookings
of one slot therefore never queue behind a single counter row, and when no place is free the
answer "full" comes without waiting for anyone (docs/concurrency.md).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Slot(models.Model):
    """One bookable period of a service on one date, materialised from the schedule."""

    hall = models.ForeignKey("halls.Hall", on_delete=models.CASCADE, related_name="slots")
    service = models.ForeignKey("halls.Service", on_delete=models.CASCADE, related_name="slots")
    date = models.DateField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    quota = models.PositiveIntegerField()
    # False when the schedule no longer has this slot (a closed day or slot): no new bookings;
    # the appointments it already holds stay.
    is_open = models.BooleanField(default=True)

    class Meta:
        ordering = ["service", "starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["service", "starts_at"], name="slot_unique_start")
        ]
        indexes = [models.Index(fields=["hall", "date"], name="slot_hall_date")]
        verbose_name = _("slot")
        verbose_name_plural = _("slots")

    def __str__(self) -> str:
        """In the hall's time, as every page shows it (the back office lists slots by it)."""
        if self.hall_id is None or self.starts_at is None or self.ends_at is None:
            return f"slot {self.pk}"  # not saved yet
        zone = self.hall.zone
        start, end = self.starts_at.astimezone(zone), self.ends_at.astimezone(zone)
        return f"{self.service} {start:%Y-%m-%d %H:%M}–{end:%H:%M} ×{self.quota}"


class SlotPlace(models.Model):
    """One place of a slot: free while ``appointment`` is null."""

    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="places")
    number = models.PositiveIntegerField()
    appointment = models.OneToOneField(
        "Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="place"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["slot", "number"], name="slot_place_unique")]
        indexes = [
            models.Index(
                fields=["slot", "number"], condition=Q(appointment=None), name="slot_place_free"
            )
        ]

    def __str__(self) -> str:
        return f"slot {self.slot_id} place {self.number}"


class AppointmentState(models.TextChoices):
    BOOKED = "booked", _("booked")
    CHECKED_IN = "checked_in", _("checked in")
    DONE = "done", _("done")
    CANCELLED = "cancelled", _("cancelled")
    NO_SHOW = "no_show", _("no-show")


ACTIVE_APPOINTMENT_STATES = (AppointmentState.BOOKED, AppointmentState.CHECKED_IN)


class BookingChannel(models.TextChoices):
    WECHAT = "wechat", _("WeChat")
    WEB = "web", _("web")
    SMS = "sms", _("SMS")
    COUNTER = "counter", _("counter")
    API = "api", _("API")


class Appointment(models.Model):
    citizen = models.ForeignKey(
        "citizens.Citizen", on_delete=models.PROTECT, related_name="appointments"
    )
    hall = models.ForeignKey("halls.Hall", on_delete=models.PROTECT, related_name="appointments")
    service = models.ForeignKey(
        "halls.Service", on_delete=models.PROTECT, related_name="appointments"
    )
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="appointments")
    date = models.DateField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    state = models.CharField(
        max_length=12, choices=AppointmentState.choices, default=AppointmentState.BOOKED
    )
    booking_code = models.CharField(max_length=12, unique=True)
    channel = models.CharField(max_length=10, choices=BookingChannel.choices)
    created_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    no_show_at = models.DateTimeField(null=True, blank=True)
    ticket = models.OneToOneField(
        "queueing.Ticket",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appointment",
    )

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            # §3.4: at most one active appointment per citizen, service and day.
            models.UniqueConstraint(
                fields=["citizen", "service", "date"],
                condition=Q(state__in=["booked", "checked_in"]),
                name="one_active_appointment_per_service_day",
            )
        ]
        indexes = [
            models.Index(fields=["citizen", "state"], name="appointment_citizen_state"),
            models.Index(
                fields=["ends_at"], condition=Q(state="booked"), name="appointment_awaiting"
            ),
            models.Index(fields=["hall", "date", "state"], name="appointment_hall_day"),
        ]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")

    def __str__(self) -> str:
        return f"{self.booking_code} ({self.state})"


class IdempotencyRecord(models.Model):
    """The answer given to a citizen's request with an Idempotency-Key, given again on retry."""

    citizen = models.ForeignKey("citizens.Citizen", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    appointment = models.ForeignKey(
        Appointment, null=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["citizen", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"citizen {self.citizen_id} key {self.key}"
