"""What booking tells the citizen (§5): confirmed, cancelled, the reminder on the day, a
no-show and a blacklisting. Each is written to the outbox in the transaction of its cause."""

from __future__ import annotations

from datetime import datetime

from hallq.booking.models import Appointment
from hallq.citizens.models import BlacklistEntry, Citizen, CitizenWechat
from hallq.notifications.models import NotificationKind
from hallq.notifications.services import notification_enqueue


def _openid(citizen: Citizen) -> str:
    openid = (
        CitizenWechat.objects.filter(citizen=citizen)
        .order_by("-bound_at")
        .values_list("openid", flat=True)
        .first()
    )
    return openid or ""


def _facts(appointment: Appointment) -> dict[str, str]:
    local = appointment.starts_at.astimezone(appointment.hall.zone)
    return {
        "hall": appointment.hall.name,
        "service": appointment.service.name,
        "time": f"{local.month}月{local.day}日 {local:%H:%M}",
        "url": f"/me/appointments/{appointment.pk}/",
    }


def appointment_notice(
    kind: NotificationKind, appointment: Appointment, citizen: Citizen, now: datetime
) -> bool:
    """Returns whether it is new (a reminder already written is not written again)."""
    return appointment_notice_to(
        kind, appointment, now, openid=_openid(citizen), mobile=citizen.mobile or ""
    )


def appointment_notice_to(
    kind: NotificationKind, appointment: Appointment, now: datetime, *, openid: str, mobile: str
) -> bool:
    """``appointment_notice`` for a caller that has read the citizen's WeChat and mobile number
    already (a booking reads them with the citizen's limits, in one statement)."""
    return notification_enqueue(
        subject_type="appointment",
        subject_id=appointment.pk,
        kind=kind,
        hall_id=appointment.hall_id,
        data=_facts(appointment),
        now=now,
        openid=openid,
        mobile=mobile,
    )


def blacklist_notice(
    entry: BlacklistEntry, citizen: Citizen, zone_name: str, now: datetime
) -> None:
    from zoneinfo import ZoneInfo

    until = entry.ends_at.astimezone(ZoneInfo(zone_name))
    notification_enqueue(
        subject_type="citizen",
        subject_id=entry.pk,
        kind=NotificationKind.BLACKLISTED,
        hall_id=None,
        data={"until": f"{until.year}年{until.month}月{until.day}日"},
        now=now,
        openid=_openid(citizen),
        mobile=citizen.mobile or "",
    )
