"""The slots of a date (PRODUCT.md §3.1–3.2) as plain data: templates, calendar, overrides and
zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hallq.scheduling.domain.calendar import Correction, DayInfo, DayKind, national_day
from hallq.scheduling.domain.slots import (
    ClosedReason,
    DayPlan,
    HallDayRule,
    Override,
    SlotRule,
    SlotSpec,
    day_plan,
)
from hallq.scheduling.domain.zones import local_instant

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY, WEDNESDAY, SATURDAY, SUNDAY = 0, 2, 5, 6


def hm(text: str) -> time:
    return time.fromisoformat(text)


def rule(weekday: int, start: str, end: str, quota: int) -> SlotRule:
    return SlotRule(weekday=weekday, start=hm(start), end=hm(end), quota=quota)


# Mornings on every working day; Monday adds an afternoon, Wednesday a different one.
WEEK = (
    *[rule(weekday, "09:00", "10:00", 5) for weekday in range(5)],
    *[rule(weekday, "10:00", "11:00", 4) for weekday in range(5)],
    rule(MONDAY, "14:00", "15:00", 3),
    rule(WEDNESDAY, "14:00", "16:00", 2),
)
WEEK_AND_SATURDAY = (*WEEK, rule(SATURDAY, "09:00", "12:00", 6))

MONDAY_SLOTS = [("09:00", "10:00", 5), ("10:00", "11:00", 4), ("14:00", "15:00", 3)]
WEDNESDAY_SLOTS = [("09:00", "10:00", 5), ("10:00", "11:00", 4), ("14:00", "16:00", 2)]
TUESDAY_SLOTS = [("09:00", "10:00", 5), ("10:00", "11:00", 4)]


def plan(
    d: date,
    templates=WEEK,
    overrides=(),
    hall_day: HallDayRule | None = None,
    zone: ZoneInfo = SHANGHAI,
) -> DayPlan:
    info = national_day(d, corrections={}, confirmed_years=frozenset())
    return day_plan(
        d, zone=zone, day=info, templates=templates, overrides=overrides, hall_day=hall_day
    )


def local_slots(result: DayPlan) -> list[tuple[str, str, int]]:
    """The slots as hall-local wall times, after checking they are on the plan's date."""
    shown = []
    for slot in result.slots:
        assert slot.starts_at.date() == result.date
        shown.append((f"{slot.starts_at:%H:%M}", f"{slot.ends_at:%H:%M}", slot.quota))
    return shown


def closed(d: date, reason: ClosedReason) -> DayPlan:
    return DayPlan(d, is_open=False, closed_reason=reason, slots=())


@pytest.mark.parametrize(
    ("d", "templates", "expected"),
    [
        (date(2026, 3, 2), WEEK, MONDAY_SLOTS),
        (date(2026, 3, 3), WEEK, TUESDAY_SLOTS),
        (date(2026, 3, 4), WEEK, WEDNESDAY_SLOTS),
        # A hall that opens on Saturdays has Saturday rows.
        (date(2026, 3, 7), WEEK_AND_SATURDAY, [("09:00", "12:00", 6)]),
        # The make-up Saturdays of the Spring Festival work to Monday's template.
        (date(2026, 2, 14), WEEK, MONDAY_SLOTS),
        (date(2026, 2, 28), WEEK, MONDAY_SLOTS),
        (date(2026, 2, 28), WEEK_AND_SATURDAY, MONDAY_SLOTS),
        # National Day's make-up Sunday and Saturday.
        (date(2026, 9, 20), WEEK, MONDAY_SLOTS),
        (date(2026, 10, 10), WEEK, MONDAY_SLOTS),
        (date(2026, 10, 8), WEEK, TUESDAY_SLOTS),  # a Thursday back at work
    ],
)
def test_an_open_day_follows_the_template_of_its_weekday(d, templates, expected):
    result = plan(d, templates)
    assert (result.is_open, result.closed_reason) == (True, ClosedReason.NONE)
    assert local_slots(result) == expected


def test_a_weekend_without_template_rows_is_closed():
    assert plan(date(2026, 3, 7)) == closed(date(2026, 3, 7), ClosedReason.WEEKEND)
    assert plan(date(2026, 3, 8), WEEK_AND_SATURDAY) == closed(
        date(2026, 3, 8), ClosedReason.WEEKEND
    )


@pytest.mark.parametrize(
    "d", [date(2026, 2, n) for n in range(15, 24)] + [date(2026, 10, n) for n in range(1, 8)]
)
def test_public_holidays_are_closed_even_for_halls_open_at_weekends(d):
    assert plan(d, WEEK_AND_SATURDAY) == closed(d, ClosedReason.HOLIDAY)


def test_a_holiday_stays_closed_whatever_the_overrides_say():
    add = Override("add_slot", hm("09:00"), hm("10:00"), 5)
    assert plan(date(2026, 10, 1), overrides=[add]) == closed(
        date(2026, 10, 1), ClosedReason.HOLIDAY
    )


def test_the_administrator_picks_the_template_of_a_make_up_day():
    result = plan(date(2026, 2, 14), hall_day=HallDayRule(template_weekday=WEDNESDAY))
    assert local_slots(result) == WEDNESDAY_SLOTS


def test_the_hall_can_run_a_working_day_on_another_weekdays_template():
    result = plan(date(2026, 3, 3), hall_day=HallDayRule(template_weekday=MONDAY))
    assert local_slots(result) == MONDAY_SLOTS


def test_a_hall_day_without_a_choice_changes_nothing():
    assert local_slots(plan(date(2026, 3, 3), hall_day=HallDayRule())) == TUESDAY_SLOTS


@pytest.mark.parametrize("d", [date(2026, 3, 3), date(2026, 10, 1), date(2026, 2, 14)])
def test_a_hall_closure_closes_any_day_first(d):
    closure = HallDayRule(closed=True, reason="停电检修")
    add = Override("add_slot", hm("09:00"), hm("10:00"), 5)
    assert plan(d, hall_day=closure, overrides=[add]) == closed(d, ClosedReason.HALL_CLOSED)


def test_closing_the_day_closes_the_service():
    overrides = [
        Override("add_slot", hm("16:00"), hm("17:00"), 3),
        Override("close_day"),
    ]
    assert plan(date(2026, 3, 2), overrides=overrides) == closed(
        date(2026, 3, 2), ClosedReason.SERVICE_CLOSED
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            [Override("set_quota", hm("09:00"), quota=12)],
            [("09:00", "10:00", 12), ("10:00", "11:00", 4), ("14:00", "15:00", 3)],
        ),
        (
            [Override("set_quota", hm("10:00"), quota=0)],
            [("09:00", "10:00", 5), ("10:00", "11:00", 0), ("14:00", "15:00", 3)],
        ),
        (
            [Override("close_slot", hm("10:00"))],
            [("09:00", "10:00", 5), ("14:00", "15:00", 3)],
        ),
        (
            [Override("add_slot", hm("11:00"), hm("12:00"), 7)],
            [
                ("09:00", "10:00", 5),
                ("10:00", "11:00", 4),
                ("11:00", "12:00", 7),
                ("14:00", "15:00", 3),
            ],
        ),
        # Close and add at one start replaces the slot, in whichever order they were entered.
        (
            [
                Override("add_slot", hm("14:00"), hm("16:30"), 8),
                Override("close_slot", hm("14:00")),
            ],
            [("09:00", "10:00", 5), ("10:00", "11:00", 4), ("14:00", "16:30", 8)],
        ),
        # A quota set on an added slot applies even when entered before it.
        (
            [
                Override("set_quota", hm("16:00"), quota=1),
                Override("add_slot", hm("16:00"), hm("17:00"), 9),
            ],
            [*MONDAY_SLOTS, ("16:00", "17:00", 1)],
        ),
        # Of two quotas for one slot, the later entered wins.
        (
            [
                Override("set_quota", hm("09:00"), quota=2),
                Override("set_quota", hm("09:00"), quota=6),
            ],
            [("09:00", "10:00", 6), ("10:00", "11:00", 4), ("14:00", "15:00", 3)],
        ),
        # Overrides naming a slot the day does not have change nothing.
        (
            [Override("close_slot", hm("08:00")), Override("set_quota", hm("08:00"), quota=1)],
            MONDAY_SLOTS,
        ),
    ],
)
def test_overrides_change_the_slots_of_one_date(overrides, expected):
    result = plan(date(2026, 3, 2), overrides=overrides)
    assert result.is_open
    assert local_slots(result) == expected


def test_a_day_left_with_no_slots_is_closed():
    overrides = [Override("close_slot", hm(start)) for start, _, _ in TUESDAY_SLOTS]
    assert plan(date(2026, 3, 3), overrides=overrides) == closed(
        date(2026, 3, 3), ClosedReason.NO_SLOTS
    )


def test_a_working_day_without_template_rows_has_no_slots():
    mondays_only = [rule(MONDAY, "09:00", "10:00", 5)]
    assert plan(date(2026, 3, 3), mondays_only) == closed(date(2026, 3, 3), ClosedReason.NO_SLOTS)


def test_added_slots_open_a_weekend_the_template_leaves_closed():
    add = Override("add_slot", hm("09:30"), hm("11:30"), 10)
    assert local_slots(plan(date(2026, 3, 7), overrides=[add])) == [("09:30", "11:30", 10)]


@pytest.mark.parametrize(
    "override",
    [
        {"kind": "reopen"},
        {"kind": "close_slot"},
        {"kind": "set_quota", "start": time(9)},
        {"kind": "add_slot", "start": time(9), "quota": 3},
        {"kind": "add_slot", "start": time(9), "end": time(9), "quota": 3},
        {"kind": "add_slot", "start": time(9), "end": time(10)},
    ],
)
def test_an_override_without_the_fields_its_kind_needs_is_refused(override):
    with pytest.raises(ValueError):  # noqa: PT011 - the message is for developers
        Override(**override)


def march_in_berlin(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=BERLIN)


def test_shanghai_slots_are_instants_eight_hours_ahead_of_utc():
    early = [rule(MONDAY, "07:30", "08:00", 2), rule(MONDAY, "08:00", "09:00", 5)]
    result = plan(date(2026, 3, 2), early)
    assert [
        (slot.starts_at.astimezone(UTC), slot.ends_at.astimezone(UTC)) for slot in result.slots
    ] == [
        # 07:30 in Shanghai is still the day before in UTC.
        (datetime(2026, 3, 1, 23, 30, tzinfo=UTC), datetime(2026, 3, 2, 0, 0, tzinfo=UTC)),
        (datetime(2026, 3, 2, 0, 0, tzinfo=UTC), datetime(2026, 3, 2, 1, 0, tzinfo=UTC)),
    ]
    assert all(slot.starts_at.tzinfo is SHANGHAI for slot in result.slots)


def test_slots_in_the_spring_gap_start_when_the_clocks_resume():
    # Berlin, Sunday 29 March 2026: at 02:00 the clocks jump to 03:00.
    d = date(2026, 3, 29)
    templates = [
        rule(SUNDAY, "01:00", "02:00", 1),
        rule(SUNDAY, "02:00", "02:30", 2),  # wholly in the gap: no time at all, dropped
        rule(SUNDAY, "02:30", "04:00", 3),
        rule(SUNDAY, "04:00", "05:00", 4),
    ]
    result = day_plan(
        d,
        zone=BERLIN,
        day=DayInfo(d, DayKind.WORKDAY),
        templates=templates,
        overrides=[],
        hall_day=None,
    )
    assert result.slots == (
        SlotSpec(march_in_berlin(29, 1), march_in_berlin(29, 3), 1),
        SlotSpec(march_in_berlin(29, 3), march_in_berlin(29, 4), 3),
        SlotSpec(march_in_berlin(29, 4), march_in_berlin(29, 5), 4),
    )
    assert [
        (slot.starts_at.astimezone(UTC).hour, slot.ends_at.astimezone(UTC).hour)
        for slot in result.slots
    ] == [
        (0, 1),
        (1, 2),
        (2, 3),
    ]
    assert [slot.starts_at.utcoffset() for slot in result.slots] == [
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=2),
    ]


def test_slots_in_the_autumn_overlap_take_the_first_occurrence():
    # Berlin, Sunday 25 October 2026: at 03:00 the clocks go back to 02:00.
    d = date(2026, 10, 25)
    templates = [rule(SUNDAY, "02:00", "03:00", 1), rule(SUNDAY, "02:30", "02:45", 2)]
    result = day_plan(
        d,
        zone=BERLIN,
        day=DayInfo(d, DayKind.WORKDAY),
        templates=templates,
        overrides=[],
        hall_day=None,
    )
    assert [
        (slot.starts_at.astimezone(UTC), slot.ends_at.astimezone(UTC)) for slot in result.slots
    ] == [
        # 02:00 summer time to 03:00 winter time: two hours of real time.
        (datetime(2026, 10, 25, 0, 0, tzinfo=UTC), datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 0, 45, tzinfo=UTC)),
    ]


@pytest.mark.parametrize(
    ("d", "wall", "expected_utc"),
    [
        (date(2026, 3, 29), "01:59:59", datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)),
        (date(2026, 3, 29), "02:00:00", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        (date(2026, 3, 29), "02:59:59", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        (date(2026, 3, 29), "03:00:00", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        (date(2026, 10, 25), "01:59:59", datetime(2026, 10, 24, 23, 59, 59, tzinfo=UTC)),
        (date(2026, 10, 25), "02:00:00", datetime(2026, 10, 25, 0, 0, tzinfo=UTC)),
        (date(2026, 10, 25), "02:59:59", datetime(2026, 10, 25, 0, 59, 59, tzinfo=UTC)),
        (date(2026, 10, 25), "03:00:00", datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
    ],
)
def test_berlin_wall_times_on_the_change_days(d, wall, expected_utc):
    instant = local_instant(d, hm(wall), BERLIN)
    # In UTC: Python never finds a time in the autumn overlap equal to one of another zone.
    assert instant.astimezone(UTC) == expected_utc
    assert instant.tzinfo is BERLIN
    assert instant.fold == 0
    # Normalised: the offset shown is the one in force at that instant.
    assert instant.utcoffset() == expected_utc.astimezone(BERLIN).utcoffset()


ZONES = st.sampled_from(
    [SHANGHAI, BERLIN, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe")]
)


@st.composite
def separate_slots(draw):
    """Template rows of one weekday that do not overlap, as quarter-hours of the day."""
    points = sorted(draw(st.sets(st.integers(0, 95), min_size=2, max_size=16)))
    pairs = list(zip(points[::2], points[1::2], strict=False))
    return [
        (time(start // 4, start % 4 * 15), time(end // 4, end % 4 * 15), draw(st.integers(0, 9)))
        for start, end in pairs
    ]


@given(
    d=st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
    zone=ZONES,
    slots=separate_slots(),
    changes=st.lists(st.tuples(st.booleans(), st.integers(0, 15), st.integers(0, 9)), max_size=4),
)
def test_the_slots_of_a_plan_are_in_order_and_apart_when_the_template_is(d, zone, slots, changes):
    templates = [SlotRule(d.weekday(), start, end, quota) for start, end, quota in slots]
    overrides = [
        Override("close_slot", slots[index % len(slots)][0])
        if close
        else Override("set_quota", slots[index % len(slots)][0], quota=quota)
        for close, index, quota in changes
    ]
    result = day_plan(
        d,
        zone=zone,
        day=DayInfo(d, DayKind.WORKDAY),
        templates=templates,
        overrides=overrides,
        hall_day=None,
    )
    assert result.is_open == bool(result.slots)
    for slot in result.slots:
        assert slot.starts_at < slot.ends_at
        assert slot.starts_at.tzinfo is zone
    for earlier, later in zip(result.slots, result.slots[1:], strict=False):
        assert earlier.ends_at <= later.starts_at


def test_a_correction_reaches_the_plan():
    d = date(2026, 3, 2)
    info = national_day(
        d,
        corrections={d: Correction(d, is_workday=False, name="临时休假")},
        confirmed_years=frozenset(),
    )
    result = day_plan(d, zone=SHANGHAI, day=info, templates=WEEK, overrides=[], hall_day=None)
    assert result == closed(d, ClosedReason.HOLIDAY)
