from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hallq.queueing.domain.estimates import (
    busyness,
    estimate_wait_seconds,
    typical_service_seconds,
)
from hallq.queueing.domain.numbering import call_announcement, format_number, spoken_number


def test_no_open_counter_means_no_estimate_rather_than_a_made_up_one():
    assert estimate_wait_seconds(4, open_counters=0, service_seconds=300) is None


def test_an_idle_counter_takes_the_first_ticket_at_once():
    assert estimate_wait_seconds(0, open_counters=2, service_seconds=300, idle_counters=1) == 0
    assert estimate_wait_seconds(1, open_counters=2, service_seconds=300, idle_counters=2) == 0


def test_people_ahead_are_shared_among_the_open_counters():
    # 4 ahead, 2 counters busy: two rounds, then half a service on average.
    assert estimate_wait_seconds(4, open_counters=2, service_seconds=300) == 750
    assert estimate_wait_seconds(0, open_counters=1, service_seconds=300) == 150


@given(st.integers(0, 500), st.integers(1, 20), st.floats(30, 3600))
def test_more_people_ahead_never_shortens_the_wait(ahead, counters, seconds):
    first = estimate_wait_seconds(ahead, counters, seconds)
    second = estimate_wait_seconds(ahead + 1, counters, seconds)
    assert first is not None
    assert second is not None
    assert second >= first


@given(st.integers(0, 500), st.integers(1, 19), st.floats(30, 3600))
def test_another_open_counter_never_lengthens_the_wait(ahead, counters, seconds):
    fewer = estimate_wait_seconds(ahead, counters, seconds)
    more = estimate_wait_seconds(ahead, counters + 1, seconds)
    assert fewer is not None
    assert more is not None
    assert more <= fewer


def test_service_time_uses_the_default_until_samples_arrive_then_the_median():
    assert typical_service_seconds([], 300) == 300
    assert typical_service_seconds([100.0] * 10, 300) == 100
    # A few samples only move it part of the way; one outlier does not dominate.
    assert typical_service_seconds([100.0, 100.0], 300) == pytest.approx(260)
    assert typical_service_seconds([100.0] * 9 + [5000.0], 300) == 100


def test_a_hall_is_idle_below_its_busy_threshold_per_open_counter():
    assert busyness(5, 2, busy_threshold=3).idle is True
    assert busyness(6, 2, busy_threshold=3).idle is False
    assert busyness(0, 0, busy_threshold=3).idle is True
    assert busyness(1, 0, busy_threshold=3).idle is False


def test_numbers_are_prefix_and_three_digits_and_grow_past_999():
    assert format_number("A", 1) == "A001"
    assert format_number("C", 12) == "C012"
    assert format_number("B", 1234) == "B1234"
    with pytest.raises(ValueError, match="starts at 1"):
        format_number("A", 0)


def test_numbers_are_spoken_digit_by_digit():
    assert spoken_number("A012") == "A零一二"
    assert call_announcement("A012", "3") == "请A零一二号到3号窗口办理"
