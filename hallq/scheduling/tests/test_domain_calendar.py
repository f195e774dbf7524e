"""The national calendar of PRODUCT.md §3.2 as plain data: library, corrections, unknown years."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hallq.scheduling.domain.calendar import (
    CalendarRange,
    CalendarUnknown,
    Correction,
    DayInfo,
    DayKind,
    national_day,
    national_days,
)

NO_CORRECTIONS: dict[date, Correction] = {}
NONE_CONFIRMED: frozenset[int] = frozenset()


def day(d: date, **options) -> DayInfo:
    return national_day(
        d,
        corrections=options.get("corrections", NO_CORRECTIONS),
        confirmed_years=options.get("confirmed_years", NONE_CONFIRMED),
    )


@pytest.mark.parametrize(
    ("d", "kind", "name"),
    [
        # Spring Festival 2026: Sun 15 to Mon 23 February, worked off on Sat 14 and Sat 28.
        (date(2026, 2, 13), DayKind.WORKDAY, ""),
        (date(2026, 2, 14), DayKind.MAKEUP_WORKDAY, "春节"),
        *[(date(2026, 2, n), DayKind.HOLIDAY, "春节") for n in range(15, 24)],
        (date(2026, 2, 24), DayKind.WORKDAY, ""),
        (date(2026, 2, 28), DayKind.MAKEUP_WORKDAY, "春节"),
        (date(2026, 3, 1), DayKind.WEEKEND, ""),
        # New Year: Thu 1 to Sat 3 January, worked off on Sun 4.
        (date(2026, 1, 1), DayKind.HOLIDAY, "元旦"),
        (date(2026, 1, 3), DayKind.HOLIDAY, "元旦"),
        (date(2026, 1, 4), DayKind.MAKEUP_WORKDAY, "元旦"),
        (date(2026, 4, 6), DayKind.HOLIDAY, "清明节"),
        (date(2026, 5, 5), DayKind.HOLIDAY, "劳动节"),
        (date(2026, 5, 9), DayKind.MAKEUP_WORKDAY, "劳动节"),
        (date(2026, 6, 19), DayKind.HOLIDAY, "端午节"),
        (date(2026, 9, 25), DayKind.HOLIDAY, "中秋节"),
        # National Day: 1 to 7 October, worked off on Sun 20 September and Sat 10 October.
        (date(2026, 9, 20), DayKind.MAKEUP_WORKDAY, "国庆节"),
        (date(2026, 10, 1), DayKind.HOLIDAY, "国庆节"),
        (date(2026, 10, 7), DayKind.HOLIDAY, "国庆节"),
        (date(2026, 10, 8), DayKind.WORKDAY, ""),
        (date(2026, 10, 10), DayKind.MAKEUP_WORKDAY, "国庆节"),
        (date(2026, 10, 11), DayKind.WEEKEND, ""),
        # 2025's joint National Day and Mid-autumn break: the library names each day.
        (date(2025, 10, 6), DayKind.HOLIDAY, "中秋节"),
        (date(2025, 10, 8), DayKind.HOLIDAY, "国庆节"),
        # A one-off holiday the table does not name takes the library's Chinese name.
        (
            date(2015, 9, 3),
            DayKind.HOLIDAY,
            "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
        ),
    ],
)
def test_the_library_years_follow_the_state_council_notices(d, kind, name):
    assert day(d) == DayInfo(d, kind, name)


@pytest.mark.parametrize("d", [date(2027, 1, 4), date(2003, 12, 31)])
def test_a_year_the_library_lacks_is_unknown_until_confirmed(d):
    with pytest.raises(CalendarUnknown) as raised:
        day(d)
    assert raised.value.year == d.year


def test_a_confirmed_year_has_plain_weekdays_and_weekends():
    confirmed = frozenset({2027})
    assert day(date(2027, 1, 4), confirmed_years=confirmed) == DayInfo(
        date(2027, 1, 4), DayKind.WORKDAY, ""
    )
    assert day(date(2027, 1, 2), confirmed_years=confirmed) == DayInfo(
        date(2027, 1, 2), DayKind.WEEKEND, ""
    )


def test_confirming_a_year_the_library_covers_changes_nothing():
    assert day(date(2026, 2, 16), confirmed_years=frozenset({2026})) == DayInfo(
        date(2026, 2, 16), DayKind.HOLIDAY, "春节"
    )


@pytest.mark.parametrize(
    ("correction", "expected"),
    [
        # A weekday the library has as a working day, closed by the State Council late on.
        (
            Correction(date(2026, 3, 2), is_workday=False, name="临时休假"),
            DayInfo(date(2026, 3, 2), DayKind.HOLIDAY, "临时休假"),
        ),
        # A holiday turned back into a working day.
        (
            Correction(date(2026, 2, 16), is_workday=True),
            DayInfo(date(2026, 2, 16), DayKind.WORKDAY, ""),
        ),
        # A weekend made a working day, and a make-up day given back as rest.
        (
            Correction(date(2026, 3, 7), is_workday=True, name="补班"),
            DayInfo(date(2026, 3, 7), DayKind.MAKEUP_WORKDAY, "补班"),
        ),
        (
            Correction(date(2026, 2, 14), is_workday=False),
            DayInfo(date(2026, 2, 14), DayKind.WEEKEND, ""),
        ),
        # Corrections for a year nobody confirmed still count: they are what is known.
        (
            Correction(date(2027, 2, 6), is_workday=True, name="春节"),
            DayInfo(date(2027, 2, 6), DayKind.MAKEUP_WORKDAY, "春节"),
        ),
        (
            Correction(date(2027, 2, 8), is_workday=False, name="春节"),
            DayInfo(date(2027, 2, 8), DayKind.HOLIDAY, "春节"),
        ),
    ],
)
def test_an_administrators_correction_wins(correction, expected):
    assert day(correction.date, corrections={correction.date: correction}) == expected


def test_a_correction_in_a_confirmed_year_wins_over_the_plain_week():
    correction = Correction(date(2027, 2, 8), is_workday=False, name="春节")
    assert day(
        date(2027, 2, 8),
        corrections={correction.date: correction},
        confirmed_years=frozenset({2027}),
    ) == DayInfo(date(2027, 2, 8), DayKind.HOLIDAY, "春节")


def test_a_range_leaves_out_the_days_of_unknown_years_and_names_those_years():
    correction = Correction(date(2027, 1, 1), is_workday=False, name="元旦")
    assert national_days(
        date(2026, 12, 30),
        date(2027, 1, 2),
        corrections={correction.date: correction},
        confirmed_years=NONE_CONFIRMED,
    ) == CalendarRange(
        days=(
            DayInfo(date(2026, 12, 30), DayKind.WORKDAY, ""),
            DayInfo(date(2026, 12, 31), DayKind.WORKDAY, ""),
            DayInfo(date(2027, 1, 1), DayKind.HOLIDAY, "元旦"),
        ),
        unknown_years=frozenset({2027}),
    )


def test_a_range_of_known_years_has_every_day():
    result = national_days(
        date(2026, 1, 1),
        date(2027, 12, 31),
        corrections=NO_CORRECTIONS,
        confirmed_years=frozenset({2027}),
    )
    assert len(result.days) == 365 + 365
    assert result.unknown_years == frozenset()


@given(st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 12, 31)))
def test_the_kind_of_a_library_day_agrees_with_its_weekday(d):
    info = day(d)
    weekend = d.weekday() >= 5
    if info.kind in (DayKind.WEEKEND, DayKind.MAKEUP_WORKDAY):
        assert weekend
    if info.kind is DayKind.WORKDAY:
        assert not weekend
    if info.kind in (DayKind.WORKDAY, DayKind.WEEKEND):
        assert info.name == ""


def test_the_2026_spring_festival_lasts_nine_days():
    start = date(2026, 2, 15)
    kinds = [day(start + timedelta(days=n)).kind for n in range(-1, 10)]
    assert kinds == [DayKind.MAKEUP_WORKDAY, *[DayKind.HOLIDAY] * 9, DayKind.WORKDAY]
