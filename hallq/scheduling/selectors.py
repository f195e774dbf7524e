"""Reads of the schedules: a service's booking rules, the slots of dates, the national calendar,
and the words that explain a closed date or a refused booking."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo

from django.core.cache import cache
from django.utils import formats
from django.utils.translation import gettext

from hallq.common.memo import Memo
from hallq.halls.models import Service
from hallq.scheduling.domain.calendar import (
    CalendarRange,
    Correction,
    national_day,
    national_days,
)
from hallq.scheduling.domain.rules import Rules
from hallq.scheduling.domain.slots import (
    ClosedReason,
    DayPlan,
    HallDayRule,
    Override,
    SlotRule,
    day_plan,
)
from hallq.scheduling.domain.window import BookingWindow, Refusal
from hallq.scheduling.models import (
    BookingRules,
    CalendarDay,
    CalendarYear,
    DateOverride,
    HallDay,
    SlotTemplate,
)

# Rules are read on every booking, every "full" and every availability answer, but change
# rarely. A change is seen at once in the process that made it, within RULES_MEMO_SECONDS in
# the others where the cache is shared (Redis), and within RULES_CACHE_SECONDS where it is not.
RULES_CACHE_SECONDS = 30
RULES_MEMO_SECONDS = 2
_rules = Memo[Rules](RULES_MEMO_SECONDS)


def _rules_key(service_id: int) -> str:
    return f"booking-rules:{service_id}"


def booking_rules_forget(service_id: int) -> None:
    _rules.forget(service_id)
    cache.delete(_rules_key(service_id))


def booking_rules(service_id: int) -> Rules:
    """The service's rules; the model's defaults when nobody has set any."""
    return _rules.remembered(service_id, lambda: _shared_booking_rules(service_id))


def _shared_booking_rules(service_id: int) -> Rules:
    rules: Rules | None = cache.get(_rules_key(service_id))
    if rules is None:
        rules = _booking_rules(service_id)
        cache.set(_rules_key(service_id), rules, RULES_CACHE_SECONDS)
    return rules


def _booking_rules(service_id: int) -> Rules:
    row = BookingRules.objects.filter(service_id=service_id).first()
    if row is None:
        row = BookingRules(service_id=service_id)
    return Rules(
        window=BookingWindow(
            min_days_ahead=row.min_days_ahead,
            max_days_ahead=row.max_days_ahead,
            release_time=row.release_time,
        ),
        cancel_cutoff=timedelta(minutes=row.cancel_cutoff_minutes),
        check_in_before=timedelta(minutes=row.check_in_before_minutes),
        check_in_after=timedelta(minutes=row.check_in_after_minutes),
        reminder_before=timedelta(minutes=row.reminder_minutes),
    )


def day_plans(*, service: Service, dates: Sequence[date]) -> dict[date, DayPlan]:
    """The slots of ``service`` on each of ``dates``, in six queries however many dates.

    Raises ``CalendarUnknown`` when a date falls in a year nobody vouches for.
    """
    dates = sorted(set(dates))
    if not dates:
        return {}
    zone = service.hall.zone
    templates = [
        SlotRule(weekday=row.weekday, start=row.start, end=row.end, quota=row.quota)
        for row in SlotTemplate.objects.filter(service=service)
    ]
    overrides: defaultdict[date, list[Override]] = defaultdict(list)
    # In order of entry, so that of two changes to one slot the later wins.
    for row in DateOverride.objects.filter(service=service, date__in=dates).order_by("id"):
        overrides[row.date].append(
            Override(kind=row.kind, start=row.start, end=row.end, quota=row.quota)
        )
    hall_days = {
        row.date: HallDayRule(
            closed=row.closed, template_weekday=row.template_weekday, reason=row.reason
        )
        for row in HallDay.objects.filter(hall_id=service.hall_id, date__in=dates)
    }
    corrections = _corrections(date__in=dates)
    confirmed_years = _confirmed_years({d.year for d in dates})
    return {
        d: day_plan(
            d,
            zone=zone,
            day=national_day(d, corrections=corrections, confirmed_years=confirmed_years),
            templates=templates,
            overrides=overrides.get(d, ()),
            hall_day=hall_days.get(d),
        )
        for d in dates
    }


def calendar_days(*, start: date, end: date) -> CalendarRange:
    """The national calendar from ``start`` to ``end`` inclusive, for the back office.

    Dates of years nobody vouches for (not in the holiday library, not confirmed, no
    correction) are left out of ``days``; their years are in ``unknown_years``.
    """
    return national_days(
        start,
        end,
        corrections=_corrections(date__range=(start, end)),
        confirmed_years=_confirmed_years(set(range(start.year, end.year + 1))),
    )


def _corrections(**date_filter: object) -> dict[date, Correction]:
    return {
        row.date: Correction(date=row.date, is_workday=row.is_workday, name=row.name)
        for row in CalendarDay.objects.filter(**date_filter)
    }


def _confirmed_years(years: set[int]) -> frozenset[int]:
    return frozenset(CalendarYear.objects.filter(year__in=years).values_list("year", flat=True))


def closed_reason_message(code: str) -> str:
    """Why a date has no slots to book, for the citizen."""
    messages = {
        ClosedReason.HALL_CLOSED: gettext("The hall is closed on this day."),
        ClosedReason.HOLIDAY: gettext("The hall is closed for the public holiday."),
        ClosedReason.WEEKEND: gettext("The hall takes no bookings at the weekend."),
        ClosedReason.SERVICE_CLOSED: gettext("This service takes no bookings on this day."),
        ClosedReason.NO_SLOTS: gettext("There are no time slots to book on this day."),
    }
    return messages[ClosedReason(code)]


def refusal_message(
    refusal: Refusal,
    opens_at: datetime | None = None,
    *,
    zone: tzinfo | None = None,
    booking_date: date | None = None,
) -> str:
    """Why a date or slot cannot be booked now, for the citizen. ``NOT_YET_OPEN`` needs
    ``opens_at``, shown in ``zone`` (the hall's; ``opens_at``'s own zone when None), and names
    ``booking_date`` when given."""
    if refusal is Refusal.NOT_YET_OPEN:
        if opens_at is None:
            raise ValueError("the message for a date not yet open needs the opening instant")
        local = opens_at.astimezone(zone) if zone is not None else opens_at
        values = {
            "opens_date": formats.date_format(local.date(), "DATE_FORMAT"),
            "time": local.strftime("%H:%M"),
        }
        if booking_date is None:
            return gettext("Bookings for this date open at %(time)s on %(opens_date)s.") % values
        return gettext("Bookings for %(date)s open at %(time)s on %(opens_date)s.") % {
            **values,
            "date": formats.date_format(booking_date, "DATE_FORMAT"),
        }
    messages = {
        Refusal.PAST: gettext("That date has passed."),
        Refusal.TOO_SOON: gettext("It is too late to book for that date."),
        Refusal.TOO_FAR: gettext("That date is too far ahead to book yet."),
        Refusal.SLOT_STARTED: gettext("That time slot has already started."),
    }
    return messages[refusal]


def calendar_unknown_message(year: int) -> str:
    """Why no date of ``year`` can be booked yet."""
    return gettext(
        "The public holidays of %(year)s have not been published yet; "
        "dates in %(year)s can be booked once they are."
    ) % {"year": year}
