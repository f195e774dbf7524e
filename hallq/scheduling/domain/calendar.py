"""The national calendar (PRODUCT.md §3.2): working days, weekends, public holidays and the
make-up working days (调休) that go with them.

Sources, strongest first: an administrator's correction of one date; the ``chinesecalendar``
library, which covers the years whose State Council notice it has; for later years that an
administrator confirmed, plain weekdays and weekends. Any other year is unknown: bookings in it
are refused rather than guessed (the notice for next year comes out around November).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

import chinese_calendar

SATURDAY = 5

# The library's English holiday names in the words of the State Council notices. Names not
# listed (one-off holidays) fall back to the library's own Chinese name.
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
}


class DayKind(StrEnum):
    WORKDAY = "workday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    MAKEUP_WORKDAY = "makeup_workday"  # a weekend day worked in exchange for a holiday (调休)


@dataclass(frozen=True, slots=True)
class DayInfo:
    date: date
    kind: DayKind
    # The holiday's name: of the holiday itself, or, on a make-up working day, of the holiday
    # it makes up for ("春节"). Empty on ordinary days.
    name: str = ""


@dataclass(frozen=True, slots=True)
class Correction:
    """An administrator's word on one date, over the library (a ``CalendarDay`` row)."""

    date: date
    is_workday: bool
    name: str = ""


class CalendarUnknown(Exception):
    """Nobody knows yet which days of ``year`` are holidays."""

    def __init__(self, year: int) -> None:
        super().__init__(f"the holiday calendar of {year} is not known")
        self.year = year


def national_day(
    d: date, *, corrections: Mapping[date, Correction], confirmed_years: frozenset[int]
) -> DayInfo:
    """What kind of day ``d`` is in mainland China. Raises ``CalendarUnknown`` for a date of a
    year neither the library nor an administrator vouches for (and no correction names)."""
    correction = corrections.get(d)
    if correction is not None:
        return _classify(d, is_workday=correction.is_workday, name=correction.name)
    try:
        is_workday = chinese_calendar.is_workday(d)
        _, english_name = chinese_calendar.get_holiday_detail(d)
    except NotImplementedError:
        if d.year not in confirmed_years:
            raise CalendarUnknown(d.year) from None
        return _classify(d, is_workday=not _is_weekend(d), name="")
    return _classify(d, is_workday=is_workday, name=_chinese_name(english_name))


@dataclass(frozen=True, slots=True)
class CalendarRange:
    """The known days of a range, in order, and the years whose days were left out."""

    days: tuple[DayInfo, ...]
    unknown_years: frozenset[int]


def national_days(
    start: date,
    end: date,
    *,
    corrections: Mapping[date, Correction],
    confirmed_years: frozenset[int],
) -> CalendarRange:
    """``national_day`` for each date from ``start`` to ``end`` inclusive, skipping the dates of
    unknown years instead of raising, for pages that show what is known."""
    days: list[DayInfo] = []
    unknown_years: set[int] = set()
    d = start
    while d <= end:
        try:
            days.append(national_day(d, corrections=corrections, confirmed_years=confirmed_years))
        except CalendarUnknown as unknown:
            unknown_years.add(unknown.year)
        d += timedelta(days=1)
    return CalendarRange(days=tuple(days), unknown_years=frozenset(unknown_years))


def _classify(d: date, *, is_workday: bool, name: str) -> DayInfo:
    weekend = _is_weekend(d)
    if is_workday:
        if weekend:
            return DayInfo(d, DayKind.MAKEUP_WORKDAY, name)
        return DayInfo(d, DayKind.WORKDAY, "")
    # A weekend inside a holiday period carries the holiday's name; an ordinary one does not.
    if weekend and not name:
        return DayInfo(d, DayKind.WEEKEND, "")
    return DayInfo(d, DayKind.HOLIDAY, name)


def _is_weekend(d: date) -> bool:
    return d.weekday() >= SATURDAY


def _chinese_name(english_name: str | None) -> str:
    if not english_name:
        return ""
    if english_name in HOLIDAY_NAMES:
        return HOLIDAY_NAMES[english_name]
    try:
        return str(chinese_calendar.Holiday(english_name).chinese)
    except ValueError:
        return english_name
