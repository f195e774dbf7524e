"""The scheduling reads against the database: rules, plans of dates, calendar and messages."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from hallq.halls.models import Hall, Organisation, Service
from hallq.scheduling.domain.calendar import (
    CalendarRange,
    CalendarUnknown,
    Correction,
    DayInfo,
    DayKind,
    national_day,
)
from hallq.scheduling.domain.rules import Rules
from hallq.scheduling.domain.slots import (
    ClosedReason,
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
    OverrideKind,
    SlotTemplate,
    Weekday,
)
from hallq.scheduling.selectors import (
    booking_rules,
    calendar_days,
    calendar_unknown_message,
    closed_reason_message,
    day_plans,
    refusal_message,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Thursday 12 to Wednesday 18 February 2026: a working Thursday and Friday, the make-up Saturday,
# then the Spring Festival holiday.
SPRING_FESTIVAL_WEEK = [date(2026, 2, 12) + timedelta(days=n) for n in range(7)]


def make_service(prefix: str = "A", hall: Hall | None = None) -> Service:
    if hall is None:
        organisation = Organisation.objects.create(name="测试机构")
        hall = Hall.objects.create(organisation=organisation, name="测试大厅")
    return Service.objects.create(hall=hall, prefix=prefix, name=f"业务{prefix}")


def add_week_template(service: Service) -> None:
    for weekday in range(5):
        SlotTemplate.objects.create(
            service=service, weekday=weekday, start=time(9), end=time(10), quota=5
        )
    SlotTemplate.objects.create(
        service=service, weekday=Weekday.WEDNESDAY, start=time(14), end=time(16), quota=2
    )


def test_a_service_without_rules_gets_the_defaults_and_no_row():
    service = make_service()
    assert booking_rules(service.id) == Rules(
        window=BookingWindow(min_days_ahead=1, max_days_ahead=1, release_time=time(8, 0)),
        cancel_cutoff=timedelta(0),
        check_in_before=timedelta(minutes=60),
        check_in_after=timedelta(minutes=15),
        reminder_before=timedelta(minutes=60),
    )
    assert not BookingRules.objects.exists()


def test_a_services_own_rules_are_read():
    service = make_service()
    BookingRules.objects.create(
        service=service,
        min_days_ahead=0,
        max_days_ahead=7,
        release_time=time(19, 30),
        cancel_cutoff_minutes=120,
        check_in_before_minutes=30,
        check_in_after_minutes=5,
        reminder_minutes=90,
    )
    assert booking_rules(service.id) == Rules(
        window=BookingWindow(min_days_ahead=0, max_days_ahead=7, release_time=time(19, 30)),
        cancel_cutoff=timedelta(hours=2),
        check_in_before=timedelta(minutes=30),
        check_in_after=timedelta(minutes=5),
        reminder_before=timedelta(minutes=90),
    )


def test_day_plans_reads_the_rows_and_agrees_with_the_domain(django_assert_num_queries):
    service = make_service()
    add_week_template(service)
    other = make_service("B", hall=service.hall)
    add_week_template(other)
    HallDay.objects.create(hall=service.hall, date=date(2026, 2, 12), closed=True, reason="检修")
    HallDay.objects.create(
        hall=service.hall, date=date(2026, 2, 14), template_weekday=Weekday.WEDNESDAY
    )
    DateOverride.objects.create(
        service=service, date=date(2026, 2, 13), kind=OverrideKind.SET_QUOTA, start=time(9), quota=9
    )
    # Another service's override does not reach this one.
    DateOverride.objects.create(service=other, date=date(2026, 2, 13), kind=OverrideKind.CLOSE_DAY)
    CalendarDay.objects.create(date=date(2026, 2, 18), is_workday=True)

    fresh = Service.objects.get(id=service.id)
    # The hall, templates, overrides, hall days, corrections and confirmed years: six queries.
    with django_assert_num_queries(6):
        plans = day_plans(service=fresh, dates=SPRING_FESTIVAL_WEEK)

    correction = Correction(date(2026, 2, 18), is_workday=True)
    templates = [
        *[SlotRule(weekday, time(9), time(10), 5) for weekday in range(5)],
        SlotRule(Weekday.WEDNESDAY, time(14), time(16), 2),
    ]
    hall_days = {
        date(2026, 2, 12): HallDayRule(closed=True, reason="检修"),
        date(2026, 2, 14): HallDayRule(template_weekday=Weekday.WEDNESDAY),
    }
    overrides = {date(2026, 2, 13): [Override("set_quota", time(9), quota=9)]}
    expected = {
        d: day_plan(
            d,
            zone=SHANGHAI,
            day=national_day(
                d, corrections={correction.date: correction}, confirmed_years=frozenset()
            ),
            templates=templates,
            overrides=overrides.get(d, []),
            hall_day=hall_days.get(d),
        )
        for d in SPRING_FESTIVAL_WEEK
    }
    assert plans == expected
    assert [(d.day, plans[d].closed_reason, len(plans[d].slots)) for d in plans] == [
        (12, ClosedReason.HALL_CLOSED, 0),
        (13, ClosedReason.NONE, 1),
        (14, ClosedReason.NONE, 2),  # make-up Saturday on Wednesday's template
        (15, ClosedReason.HOLIDAY, 0),
        (16, ClosedReason.HOLIDAY, 0),
        (17, ClosedReason.HOLIDAY, 0),
        (18, ClosedReason.NONE, 2),  # corrected back to a working Wednesday
    ]
    assert plans[date(2026, 2, 13)].slots[0].quota == 9
    assert plans[date(2026, 2, 13)].slots[0].starts_at == datetime(2026, 2, 13, 1, 0, tzinfo=UTC)


def test_day_plans_takes_as_many_queries_for_a_month_as_for_a_day(django_assert_num_queries):
    service = make_service()
    add_week_template(service)
    with django_assert_num_queries(5):
        day_plans(service=service, dates=[date(2026, 3, 2)])
    with django_assert_num_queries(5):
        plans = day_plans(
            service=service, dates=[date(2026, 3, 1) + timedelta(days=n) for n in range(31)]
        )
    assert len(plans) == 31


def test_day_plans_of_no_dates_reads_nothing(django_assert_num_queries):
    service = make_service()
    with django_assert_num_queries(0):
        assert day_plans(service=service, dates=[]) == {}


def test_day_plans_refuses_a_year_nobody_confirmed_until_someone_does():
    service = make_service()
    add_week_template(service)
    with pytest.raises(CalendarUnknown) as raised:
        day_plans(service=service, dates=[date(2026, 12, 31), date(2027, 1, 4)])
    assert raised.value.year == 2027

    CalendarYear.objects.create(year=2027, confirmed_at=datetime(2026, 11, 1, tzinfo=UTC))
    plans = day_plans(service=service, dates=[date(2027, 1, 4)])
    assert [slot.quota for slot in plans[date(2027, 1, 4)].slots] == [5]


def test_the_back_office_calendar_leaves_out_unknown_years_and_names_them():
    CalendarDay.objects.create(date=date(2027, 1, 1), is_workday=False, name="元旦")
    assert calendar_days(start=date(2026, 12, 31), end=date(2027, 1, 2)) == CalendarRange(
        days=(
            DayInfo(date(2026, 12, 31), DayKind.WORKDAY, ""),
            DayInfo(date(2027, 1, 1), DayKind.HOLIDAY, "元旦"),
        ),
        unknown_years=frozenset({2027}),
    )
    CalendarYear.objects.create(year=2027, confirmed_at=datetime(2026, 11, 1, tzinfo=UTC))
    assert calendar_days(start=date(2027, 1, 1), end=date(2027, 1, 2)) == CalendarRange(
        days=(
            DayInfo(date(2027, 1, 1), DayKind.HOLIDAY, "元旦"),
            DayInfo(date(2027, 1, 2), DayKind.WEEKEND, ""),
        ),
        unknown_years=frozenset(),
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": OverrideKind.CLOSE_SLOT},
        {"kind": OverrideKind.SET_QUOTA, "start": time(9)},
        {"kind": OverrideKind.ADD_SLOT, "start": time(9), "quota": 3},
        {"kind": OverrideKind.ADD_SLOT, "start": time(9), "end": time(8), "quota": 3},
        {"kind": "reopen"},
    ],
)
def test_the_database_refuses_an_override_without_the_fields_its_kind_needs(fields):
    service = make_service()
    with pytest.raises(IntegrityError), transaction.atomic():
        DateOverride.objects.create(service=service, date=date(2026, 3, 2), **fields)


@pytest.mark.parametrize(
    ("code", "chinese", "english"),
    [
        ("hall_closed", "大厅当日不对外办公。", "The hall is closed on this day."),
        ("holiday", "法定节假日期间大厅不对外办公。", "The hall is closed for the public holiday."),
        ("weekend", "周末不提供预约。", "The hall takes no bookings at the weekend."),
        ("service_closed", "该业务当日暂停预约。", "This service takes no bookings on this day."),
        ("no_slots", "当日没有可预约的时段。", "There are no time slots to book on this day."),
    ],
)
def test_each_closed_reason_has_a_message_in_both_languages(code, chinese, english):
    with translation.override("zh-hans"):
        assert closed_reason_message(code) == chinese
    with translation.override("en"):
        assert closed_reason_message(code) == english


@pytest.mark.parametrize(
    ("refusal", "chinese", "english"),
    [
        (Refusal.PAST, "该日期已过。", "That date has passed."),
        (Refusal.TOO_SOON, "该日期已过预约时间。", "It is too late to book for that date."),
        (
            Refusal.TOO_FAR,
            "该日期尚不能预约，请临近时再来。",
            "That date is too far ahead to book yet.",
        ),
        (
            Refusal.SLOT_STARTED,
            "该时段已经开始，不能预约。",
            "That time slot has already started.",
        ),
    ],
)
def test_each_refusal_has_a_message_in_both_languages(refusal, chinese, english):
    with translation.override("zh-hans"):
        assert refusal_message(refusal) == chinese
    with translation.override("en"):
        assert refusal_message(refusal) == english


def test_a_date_not_yet_open_tells_when_it_opens_in_the_halls_zone():
    # 1 March 00:00 UTC is 08:00 in Shanghai.
    opens_at = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    with translation.override("zh-hans"):
        assert (
            refusal_message(
                Refusal.NOT_YET_OPEN, opens_at, zone=SHANGHAI, booking_date=date(2026, 3, 2)
            )
            == "2026年3月2日的预约将于2026年3月1日 08:00开放。"
        )
        assert (
            refusal_message(Refusal.NOT_YET_OPEN, opens_at, zone=SHANGHAI)
            == "该日期的预约将于2026年3月1日 08:00开放。"
        )
    with translation.override("en"):
        assert (
            refusal_message(
                Refusal.NOT_YET_OPEN, opens_at, zone=SHANGHAI, booking_date=date(2026, 3, 2)
            )
            == "Bookings for March 2, 2026 open at 08:00 on March 1, 2026."
        )
        # Without a zone, the instant is shown in its own.
        assert (
            refusal_message(Refusal.NOT_YET_OPEN, opens_at)
            == "Bookings for this date open at 00:00 on March 1, 2026."
        )


def test_a_date_not_yet_open_needs_the_opening_instant():
    with pytest.raises(ValueError):  # noqa: PT011 - the message is for developers
        refusal_message(Refusal.NOT_YET_OPEN)


def test_an_unknown_year_is_explained_in_both_languages():
    with translation.override("zh-hans"):
        assert (
            calendar_unknown_message(2027)
            == "2027年的节假日安排尚未公布，公布后即可预约该年的日期。"
        )
    with translation.override("en"):
        assert calendar_unknown_message(2027) == (
            "The public holidays of 2027 have not been published yet; "
            "dates in 2027 can be booked once they are."
        )


def test_chinese_is_the_default_language():
    assert closed_reason_message("holiday") == "法定节假日期间大厅不对外办公。"
