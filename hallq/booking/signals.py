"""Schedule changes reach the slots already materialised (administrators edit the schedule in
the back office; citizens see the change at once)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from hallq.booking.services import slots_resync
from hallq.common import clock
from hallq.halls.models import Service
from hallq.scheduling.models import (
    BookingRules,
    CalendarDay,
    CalendarYear,
    DateOverride,
    HallDay,
    SlotTemplate,
)
from hallq.scheduling.selectors import booking_rules_forget


@receiver([post_save, post_delete], sender=SlotTemplate)
@receiver([post_save, post_delete], sender=DateOverride)
@receiver([post_save, post_delete], sender=BookingRules)
def service_schedule_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    if sender is BookingRules:
        booking_rules_forget(instance.service_id)
    slots_resync(service_ids=[instance.service_id], now=clock.now())


@receiver([post_save, post_delete], sender=HallDay)
def hall_day_changed(sender: Any, instance: HallDay, **kwargs: Any) -> None:
    service_ids = list(
        Service.objects.filter(hall_id=instance.hall_id).values_list("pk", flat=True)
    )
    slots_resync(service_ids=service_ids, now=clock.now())


@receiver([post_save, post_delete], sender=CalendarDay)
@receiver([post_save, post_delete], sender=CalendarYear)
def calendar_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    slots_resync(service_ids=None, now=clock.now())
