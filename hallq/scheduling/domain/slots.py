"""The slots of one service on one date (PRODUCT.md §3.1–3.2): the weekly template of the
weekday the calendar says to use, changed by that date's overrides."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from hallq.scheduling.domain.calendar import DayInfo, DayKind
from hallq.scheduling.domain.zones import local_instant

MONDAY = 0


@dataclass(frozen=True, slots=True)
class SlotRule:
    """One slot of the weekly template: on ``weekday`` (Monday 0), ``start``–``end``."""

    weekday: int
    start: time
    end: time
    quota: int


class OverrideKind(StrEnum):
    CLOSE_DAY = "close_day"
    CLOSE_SLOT = "close_slot"  # the slot starting at ``start``
    ADD_SLOT = "add_slot"  # ``start``–``end`` with ``quota`` places
    SET_QUOTA = "set_quota"  # of the slot starting at ``start``; 0 leaves it with no places


@dataclass(frozen=True, slots=True)
class Override:
    """A change to the slots of one date."""

    kind: str
    start: time | None = None
    end: time | None = None
    quota: int | None = None

    def __post_init__(self) -> None:
        kind = OverrideKind(self.kind)
        if kind is not OverrideKind.CLOSE_DAY and self.start is None:
            raise ValueError(f"a {kind} override needs the start of its slot")
        if kind is OverrideKind.ADD_SLOT and (
            self.end is None or self.start is None or self.end <= self.start
        ):
            raise ValueError("an added slot needs an end after its start")
        if kind in (OverrideKind.ADD_SLOT, OverrideKind.SET_QUOTA) and self.quota is None:
            raise ValueError(f"a {kind} override needs a quota")


@dataclass(frozen=True, slots=True)
class HallDayRule:
    """The hall's own decision about a date: closed, or which weekday's template it uses."""

    closed: bool = False
    template_weekday: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SlotSpec:
    # Aware, in the hall's zone. Compare with datetimes of other zones in UTC (see zones.py).
    starts_at: datetime
    ends_at: datetime
    quota: int


class ClosedReason(StrEnum):
    NONE = ""  # the day is open
    HALL_CLOSED = "hall_closed"
    HOLIDAY = "holiday"
    WEEKEND = "weekend"
    SERVICE_CLOSED = "service_closed"
    NO_SLOTS = "no_slots"


@dataclass(frozen=True, slots=True)
class DayPlan:
    date: date
    is_open: bool
    closed_reason: ClosedReason
    slots: tuple[SlotSpec, ...]


def day_plan(
    d: date,
    *,
    zone: ZoneInfo,
    day: DayInfo,
    templates: Sequence[SlotRule],
    overrides: Sequence[Override],
    hall_day: HallDayRule | None,
) -> DayPlan:
    """The bookable slots of date ``d`` for one service, or why there are none.

    The hall's closure and public holidays close the day whatever else says. Otherwise the day
    follows the template of a weekday: a make-up working day uses the weekday the hall chose
    (Monday by default); any other day its own, unless the hall chose another. A weekend day with no
    template rows is a rest day unless overrides add slots to it.

    Overrides then apply by kind, not by order of entry: ``close_day`` closes the service;
    ``close_slot`` removes template slots; ``add_slot`` adds slots, replacing one with the same
    start (so close-and-add at one start replaces a slot); ``set_quota`` sets the places of the
    slot with that start. An override naming a slot the day does not have changes nothing.
    Of two overrides of one kind on one slot, the later in ``overrides`` wins.
    """
    if hall_day is not None and hall_day.closed:
        return _closed(d, ClosedReason.HALL_CLOSED)
    if day.kind is DayKind.HOLIDAY:
        return _closed(d, ClosedReason.HOLIDAY)
    if any(override.kind == OverrideKind.CLOSE_DAY for override in overrides):
        return _closed(d, ClosedReason.SERVICE_CLOSED)

    weekday = _template_weekday(d, day, hall_day)
    slots = {rule.start: (rule.end, rule.quota) for rule in templates if rule.weekday == weekday}
    had_template = bool(slots)
    for kind in (OverrideKind.CLOSE_SLOT, OverrideKind.ADD_SLOT, OverrideKind.SET_QUOTA):
        for override in overrides:
            if override.kind == kind:
                _apply(slots, override)

    specs = _to_instants(d, slots, zone)
    if specs:
        return DayPlan(d, is_open=True, closed_reason=ClosedReason.NONE, slots=specs)
    if day.kind is DayKind.WEEKEND and not had_template:
        return _closed(d, ClosedReason.WEEKEND)
    return _closed(d, ClosedReason.NO_SLOTS)


def _template_weekday(d: date, day: DayInfo, hall_day: HallDayRule | None) -> int:
    chosen = hall_day.template_weekday if hall_day is not None else None
    if chosen is not None:
        return chosen
    if day.kind is DayKind.MAKEUP_WORKDAY:
        return MONDAY
    return d.weekday()


def _apply(slots: dict[time, tuple[time, int]], override: Override) -> None:
    match override:
        case Override(kind=OverrideKind.CLOSE_SLOT, start=time() as start):
            slots.pop(start, None)
        case Override(
            kind=OverrideKind.ADD_SLOT,
            start=time() as start,
            end=time() as end,
            quota=int() as quota,
        ):
            slots[start] = (end, quota)
        case Override(kind=OverrideKind.SET_QUOTA, start=time() as start, quota=int() as quota):
            if start in slots:
                slots[start] = (slots[start][0], quota)


def _to_instants(
    d: date, slots: dict[time, tuple[time, int]], zone: ZoneInfo
) -> tuple[SlotSpec, ...]:
    specs = []
    for start, (end, quota) in sorted(slots.items()):
        starts_at = local_instant(d, start, zone)
        ends_at = local_instant(d, end, zone)
        # A slot wholly inside a spring-forward gap lasts no time at all: nobody can come.
        if ends_at > starts_at:
            specs.append(SlotSpec(starts_at=starts_at, ends_at=ends_at, quota=quota))
    # Wall-clock order is instant order except across a gap; sort by the instants themselves.
    return tuple(sorted(specs, key=lambda spec: spec.starts_at))


def _closed(d: date, reason: ClosedReason) -> DayPlan:
    return DayPlan(d, is_open=False, closed_reason=reason, slots=())
