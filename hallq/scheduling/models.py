"""Booking rules, weekly slot templates, per-date overrides and the calendar (§3.1–3.3).

The rows here are what administrators edit; ``scheduling.domain`` turns them into the slots of a
date, and ``booking`` materialises those slots when their day comes into the booking window.
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class BookingRules(models.Model):
    """How a service may be booked. A service without rules uses the defaults below."""

    service = models.OneToOneField(
        "halls.Service", on_delete=models.CASCADE, related_name="booking_rules"
    )
    # Days ahead a citizen may book: the standard product books only the next day (1..1);
    # 0 allows same-day booking.
    min_days_ahead = models.PositiveSmallIntegerField(_("earliest day ahead"), default=1)
    max_days_ahead = models.PositiveSmallIntegerField(_("latest day ahead"), default=1)
    # The hall-local time at which the furthest day opens for booking.
    release_time = models.TimeField(_("release time"), default=time(8, 0))
    # Cancelling is allowed until this many minutes before the slot starts.
    cancel_cutoff_minutes = models.PositiveIntegerField(_("cancel until (min before)"), default=0)
    check_in_before_minutes = models.PositiveIntegerField(
        _("check-in opens (min before)"), default=60
    )
    check_in_after_minutes = models.PositiveIntegerField(
        _("check-in closes (min after end)"), default=15
    )
    reminder_minutes = models.PositiveIntegerField(_("reminder (min before)"), default=60)

    class Meta:
        verbose_name = _("booking rules")
        verbose_name_plural = _("booking rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(max_days_ahead__gte=F("min_days_ahead")),
                name="booking_window_not_empty",
            )
        ]

    def __str__(self) -> str:
        return f"{self.service}: {self.min_days_ahead}–{self.max_days_ahead}"


class SlotTemplate(models.Model):
    """One slot of a service's weekly template: on ``weekday``, from ``start`` to ``end``."""

    service = models.ForeignKey(
        "halls.Service", on_delete=models.CASCADE, related_name="slot_templates"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))
    quota = models.PositiveIntegerField(_("quota"))

    class Meta:
        ordering = ["service", "weekday", "start"]
        verbose_name = _("weekly slot")
        verbose_name_plural = _("weekly slots")
        constraints = [
            models.UniqueConstraint(
                fields=["service", "weekday", "start"], name="slot_template_unique"
            ),
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="slot_template_order"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M} ×{self.quota}"


class OverrideKind(models.TextChoices):
    CLOSE_DAY = "close_day", _("close the day")
    CLOSE_SLOT = "close_slot", _("close a slot")
    ADD_SLOT = "add_slot", _("add a slot")
    SET_QUOTA = "set_quota", _("change a slot's quota")


class DateOverride(models.Model):
    """A change to one service's slots on one date. ``start`` names the slot (close_slot,
    set_quota) or the new slot (add_slot, with ``end``); ``quota`` for add_slot and set_quota."""

    service = models.ForeignKey(
        "halls.Service", on_delete=models.CASCADE, related_name="date_overrides"
    )
    date = models.DateField(_("date"))
    kind = models.CharField(_("change"), max_length=12, choices=OverrideKind.choices)
    start = models.TimeField(_("start"), null=True, blank=True)
    end = models.TimeField(_("end"), null=True, blank=True)
    quota = models.PositiveIntegerField(_("quota"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["service", "date", "start"]
        verbose_name = _("date override")
        verbose_name_plural = _("date overrides")
        # Each kind has the fields it needs, so the schedule of a date can always be computed.
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=OverrideKind.CLOSE_DAY)
                | Q(kind=OverrideKind.CLOSE_SLOT, start__isnull=False)
                | Q(kind=OverrideKind.SET_QUOTA, start__isnull=False, quota__isnull=False)
                | Q(
                    kind=OverrideKind.ADD_SLOT,
                    start__isnull=False,
                    # NULL > start is unknown, which a CHECK lets through: say it outright.
                    end__isnull=False,
                    end__gt=F("start"),
                    quota__isnull=False,
                ),
                name="date_override_fields",
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()}"


class HallDay(models.Model):
    """A hall's own decision about one date: closed (weather, maintenance, an event), or which
    weekday's template a make-up working day (调休) uses."""

    hall = models.ForeignKey("halls.Hall", on_delete=models.CASCADE, related_name="days")
    date = models.DateField(_("date"))
    closed = models.BooleanField(_("closed"), default=False)
    template_weekday = models.PositiveSmallIntegerField(
        _("use the template of"), choices=Weekday.choices, null=True, blank=True
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["hall", "date"]
        verbose_name = _("hall day")
        verbose_name_plural = _("hall days (closures, make-up days)")
        constraints = [models.UniqueConstraint(fields=["hall", "date"], name="hall_day_unique")]

    def __str__(self) -> str:
        return f"{self.hall} {self.date}"


class CalendarYear(models.Model):
    """A year the holiday library does not cover, confirmed by an administrator: its weekdays
    are working days and weekends rest days, except the ``CalendarDay`` rows entered for it."""

    year = models.PositiveSmallIntegerField(unique=True)
    confirmed_at = models.DateTimeField()
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("confirmed calendar year")
        verbose_name_plural = _("confirmed calendar years")

    def __str__(self) -> str:
        return str(self.year)


class CalendarDay(models.Model):
    """A national calendar correction for one date, over the holiday library (or for a year it
    does not cover): a public holiday, or a make-up working day."""

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    name = models.CharField(_("name"), max_length=50, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar day")
        verbose_name_plural = _("national calendar corrections")

    def __str__(self) -> str:
        return f"{self.date} {'workday' if self.is_workday else 'holiday'} {self.name}"
