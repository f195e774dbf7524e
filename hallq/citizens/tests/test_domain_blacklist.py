from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hallq.citizens.domain.blacklist import BlacklistPolicy, blacklist_ends_at

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
POLICY = BlacklistPolicy(violations=3, window=timedelta(days=90), duration=timedelta(days=90))

# Violation moments as offsets before NOW, up to twice the window (some are outside it).
offsets = st.lists(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=180)))


def test_three_violations_within_90_days_blacklist_for_90_days():
    times = [NOW - timedelta(days=80), NOW - timedelta(days=10), NOW]
    assert blacklist_ends_at(times, NOW, policy=POLICY) == NOW + timedelta(days=90)


def test_two_violations_do_not():
    assert blacklist_ends_at([NOW - timedelta(days=1), NOW], NOW, policy=POLICY) is None


def test_the_window_is_open_at_its_start_and_closed_at_now():
    on_the_edge = [NOW - timedelta(days=90), NOW - timedelta(days=1), NOW]
    assert blacklist_ends_at(on_the_edge, NOW, policy=POLICY) is None
    just_inside = [NOW - timedelta(days=90) + timedelta(seconds=1), NOW - timedelta(days=1), NOW]
    assert blacklist_ends_at(just_inside, NOW, policy=POLICY) == NOW + timedelta(days=90)


def test_violations_after_now_do_not_count():
    times = [NOW - timedelta(days=1), NOW, NOW + timedelta(seconds=1)]
    assert blacklist_ends_at(times, NOW, policy=POLICY) is None


@given(offsets)
def test_the_answer_is_the_policy_duration_exactly_when_enough_fall_in_the_window(before):
    times = [NOW - offset for offset in before]
    inside = sum(1 for offset in before if offset < POLICY.window)
    expected = NOW + POLICY.duration if inside >= POLICY.violations else None
    assert blacklist_ends_at(times, NOW, policy=POLICY) == expected


@given(offsets, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=180)))
def test_one_more_violation_never_lifts_a_blacklisting(before, extra):
    times = [NOW - offset for offset in before]
    if blacklist_ends_at(times, NOW, policy=POLICY) is not None:
        assert blacklist_ends_at([*times, NOW - extra], NOW, policy=POLICY) is not None


@given(offsets, st.timedeltas(min_value=timedelta(days=90), max_value=timedelta(days=3650)))
def test_violations_older_than_the_window_never_matter(before, age):
    times = [NOW - offset for offset in before]
    assert blacklist_ends_at([*times, NOW - age], NOW, policy=POLICY) == blacklist_ends_at(
        times, NOW, policy=POLICY
    )


@given(offsets, st.randoms())
def test_the_order_of_the_violations_does_not_matter(before, random):
    times = [NOW - offset for offset in before]
    shuffled = random.sample(times, len(times))
    assert blacklist_ends_at(shuffled, NOW, policy=POLICY) == blacklist_ends_at(
        times, NOW, policy=POLICY
    )
