"""Builders for booking tests: registered citizens and materialised slots."""

from __future__ import annotations

from datetime import datetime, timedelta

from stdnum.cn.ric import calc_check_digit

from hallq.booking.models import Slot, SlotPlace
from hallq.citizens.models import Citizen, id_number_index, mobile_index
from hallq.halls.models import Service


def id_number_for(index: int) -> str:
    """A valid resident ID number, different for each index."""
    body = f"110101{19800101 + index // 1000:08d}{index % 1000:03d}"
    return body + calc_check_digit(body + "0")  # it ignores the last character


def make_citizen(index: int, *, now: datetime, registered: bool = True) -> Citizen:
    mobile = f"138{index:08d}"
    id_number = id_number_for(index)
    return Citizen.objects.create(
        name=f"市民{index}" if registered else "",
        mobile=mobile,
        mobile_index=mobile_index(mobile),
        id_number=id_number if registered else "",
        id_number_index=id_number_index(id_number) if registered else None,
        created_at=now,
        registered_at=now if registered else None,
        agreement_version=1,
    )


def make_slot(service: Service, starts_at: datetime, quota: int, minutes: int = 30) -> Slot:
    slot = Slot.objects.create(
        hall_id=service.hall_id,
        service=service,
        date=starts_at.astimezone(service.hall.zone).date(),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        quota=quota,
    )
    SlotPlace.objects.bulk_create(SlotPlace(slot=slot, number=n) for n in range(1, quota + 1))
    return Slot.objects.select_related("hall", "service").get(pk=slot.pk)
