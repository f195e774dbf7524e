"""The booking window (PRODUCT.md §3.3), check-in window (§3.7) and cancel deadline (§3.6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hallq.scheduling.domain.window import (
    BookingWindow,
    Refusal,
    bookable_dates,
    cancel_deadline,
    check_in_window,
    date_opens_at,
    date_refusal,
    slot_refusal,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
SECOND = timedelta(seconds=1)

NEXT_DAY = BookingWindow(min_days_ahead=1, max_days_ahead=1, release_time=time(8, 0))
SAME_DAY = BookingWindow(min_days_ahead=0, max_days_ahead=0, release_time=time(7, 0))
WEEK_AHEAD = BookingWindow(min_days_ahead=1, max_days_ahead=7, release_time=time(8, 0))


def shanghai(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def test_the_next_day_opens_at_the_release_time_the_day_before():
    assert date_opens_at(date(2026, 3, 2), window=NEXT_DAY, zone=SHANGHAI) == shanghai(
        2026, 3, 1, 8, 0
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (shanghai(2026, 3, 1, 7, 59, 59), []),
        (shanghai(2026, 3, 1, 8, 0, 0), [date(2026, 3, 2)]),
        (shanghai(2026, 3, 1, 8, 0, 1), [date(2026, 3, 2)]),
        (shanghai(2026, 3, 1, 23, 59, 59), [date(2026, 3, 2)]),
        (shanghai(2026, 3, 2, 0, 0, 0), []),  # a new day; its next day opens at 08:00
    ],
)
def test_next_day_booking_around_the_release_time(now, expected):
    assert bookable_dates(now, window=NEXT_DAY, zone=SHANGHAI) == expected


@pytest.mark.parametrize(
    ("d", "now", "refusal"),
    [
        (date(2026, 3, 2), shanghai(2026, 3, 1, 7, 59, 59), Refusal.NOT_YET_OPEN),
        (date(2026, 3, 2), shanghai(2026, 3, 1, 8, 0, 0), None),
        (date(2026, 3, 2), shanghai(2026, 3, 1, 8, 0, 1), None),
        (date(2026, 3, 1), shanghai(2026, 3, 1, 9, 0), Refusal.TOO_SOON),
        (date(2026, 3, 3), shanghai(2026, 3, 1, 9, 0), Refusal.TOO_FAR),
        (date(2026, 2, 28), shanghai(2026, 3, 1, 9, 0), Refusal.PAST),
    ],
)
def test_why_a_date_cannot_be_booked_the_next_day_way(d, now, refusal):
    assert date_refusal(d, now, window=NEXT_DAY, zone=SHANGHAI) == refusal


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (shanghai(2026, 3, 2, 6, 59, 59), []),
        (shanghai(2026, 3, 2, 7, 0, 0), [date(2026, 3, 2)]),
        (shanghai(2026, 3, 2, 7, 0, 1), [date(2026, 3, 2)]),
    ],
)
def test_same_day_booking_opens_on_the_day(now, expected):
    assert bookable_dates(now, window=SAME_DAY, zone=SHANGHAI) == expected


@pytest.mark.parametrize(
    ("now", "refusal"),
    [
        (shanghai(2026, 3, 2, 6, 59, 59), Refusal.NOT_YET_OPEN),
        (shanghai(2026, 3, 2, 8, 59, 59), None),
        (shanghai(2026, 3, 2, 9, 0, 0), Refusal.SLOT_STARTED),
        (shanghai(2026, 3, 2, 9, 30), Refusal.SLOT_STARTED),
        (shanghai(2026, 3, 3, 8, 0), Refusal.PAST),
    ],
)
def test_a_same_day_slot_can_be_booked_until_it_starts(now, refusal):
    starts_at = shanghai(2026, 3, 2, 9, 0)
    assert slot_refusal(starts_at, now, window=SAME_DAY, zone=SHANGHAI) == refusal


def test_a_slot_of_a_next_day_is_refused_for_its_date():
    starts_at = shanghai(2026, 3, 2, 9, 0)
    now = shanghai(2026, 3, 2, 8, 0)
    assert slot_refusal(starts_at, now, window=NEXT_DAY, zone=SHANGHAI) == Refusal.TOO_SOON


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (shanghai(2026, 3, 1, 7, 59, 59), [date(2026, 3, n) for n in range(2, 8)]),
        (shanghai(2026, 3, 1, 8, 0, 0), [date(2026, 3, n) for n in range(2, 9)]),
    ],
)
def test_a_week_ahead_window_opens_its_furthest_day_at_the_release_time(now, expected):
    assert bookable_dates(now, window=WEEK_AHEAD, zone=SHANGHAI) == expected


@pytest.mark.parametrize(
    ("now", "refusal"),
    [
        (shanghai(2026, 3, 1, 7, 59, 59), Refusal.NOT_YET_OPEN),
        (shanghai(2026, 3, 1, 8, 0, 0), None),
    ],
)
def test_the_furthest_day_of_a_week_ahead_window_is_not_open_before_the_release(now, refusal):
    assert date_refusal(date(2026, 3, 8), now, window=WEEK_AHEAD, zone=SHANGHAI) == refusal


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 15:59:59 UTC is 23:59:59 in Shanghai: still 1 March there, so 2 March is bookable.
        (datetime(2026, 3, 1, 15, 59, 59, tzinfo=UTC), [date(2026, 3, 2)]),
        # 16:00 UTC is midnight in Shanghai: 2 March is today, 3 March opens at once.
        (datetime(2026, 3, 1, 16, 0, 0, tzinfo=UTC), [date(2026, 3, 3)]),
    ],
)
def test_the_hall_zone_decides_what_today_is(now, expected):
    midnight_release = BookingWindow(min_days_ahead=1, max_days_ahead=1, release_time=time(0, 0))
    assert bookable_dates(now, window=midnight_release, zone=SHANGHAI) == expected


def test_a_release_time_in_the_spring_gap_opens_when_the_clocks_resume():
    window = BookingWindow(min_days_ahead=1, max_days_ahead=1, release_time=time(2, 30))
    opens_at = date_opens_at(date(2026, 3, 30), window=window, zone=BERLIN)
    assert opens_at.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    before = datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)
    assert bookable_dates(before, window=window, zone=BERLIN) == []
    assert bookable_dates(before + SECOND, window=window, zone=BERLIN) == [date(2026, 3, 30)]


def test_a_window_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError):  # noqa: PT011 - the message is for developers
        BookingWindow(min_days_ahead=2, max_days_ahead=1, release_time=time(8, 0))


def test_check_in_opens_before_the_slot_and_closes_after_it():
    starts_at, ends_at = shanghai(2026, 3, 2, 9, 0), shanghai(2026, 3, 2, 10, 0)
    assert check_in_window(
        starts_at, ends_at, before=timedelta(minutes=60), after=timedelta(minutes=15)
    ) == (shanghai(2026, 3, 2, 8, 0), shanghai(2026, 3, 2, 10, 15))


def test_the_cancel_deadline_is_the_cut_off_before_the_slot():
    starts_at = shanghai(2026, 3, 2, 9, 0)
    assert cancel_deadline(starts_at, cutoff=timedelta(0)) == starts_at
    assert cancel_deadline(starts_at, cutoff=timedelta(hours=2)) == shanghai(2026, 3, 2, 7, 0)


ZONES = st.sampled_from(
    [SHANGHAI, BERLIN, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe")]
)


@st.composite
def windows(draw):
    least = draw(st.integers(0, 5))
    return BookingWindow(
        min_days_ahead=least,
        max_days_ahead=draw(st.integers(least, least + 10)),
        release_time=draw(st.times()),
    )


# Any second of 2026 and 2027, as an aware instant.
INSTANTS = st.integers(0, 2 * 365 * 24 * 3600).map(
    lambda seconds: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
)


@given(
    now=INSTANTS,
    window=windows(),
    zone=ZONES,
)
def test_bookable_dates_are_exactly_the_dates_without_a_refusal(now, window, zone):
    today = now.astimezone(zone).date()
    nearby = [today + timedelta(days=n) for n in range(-2, window.max_days_ahead + 3)]
    assert bookable_dates(now, window=window, zone=zone) == [
        d for d in nearby if date_refusal(d, now, window=window, zone=zone) is None
    ]
