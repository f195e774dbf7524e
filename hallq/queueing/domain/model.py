from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class TicketKind(enum.StrEnum):
    WALK_IN = "walk_in"
    REMOTE = "remote"
    APPOINTMENT = "appointment"


class Band(enum.IntEnum):
    """Where a waiting ticket stands in the calling order of PRODUCT.md §4.3, first band first."""

    REINSTATED = 0  # a no-show put back by staff goes to the head of its queue (§4.4)
    APPOINTMENT_DUE = 1  # appointment whose slot has started
    WALK_IN = 2  # walk-in and remote tickets, first come first served
    APPOINTMENT_EARLY = 3  # appointment checked in before its slot: only when no walk-in waits


PRIORITY_BANDS = frozenset({Band.REINSTATED, Band.APPOINTMENT_DUE})


@dataclass(frozen=True, slots=True)
class WaitingTicket:
    """A ticket in state *waiting*, as the calling rules need to see it."""

    id: int
    service_id: int
    kind: TicketKind
    queue_time: datetime  # original issue time; kept across transfers
    slot_start: datetime | None = None
    checked_in_at: datetime | None = None
    reinstated_at: datetime | None = None

    def band(self, now: datetime) -> Band:
        if self.reinstated_at is not None:
            return Band.REINSTATED
        if self.kind is TicketKind.APPOINTMENT and self.slot_start is not None:
            return Band.APPOINTMENT_DUE if self.slot_start <= now else Band.APPOINTMENT_EARLY
        return Band.WALK_IN


@dataclass(frozen=True, slots=True)
class CounterPolicy:
    """How one counter chooses among the services it serves.

    ``service_ids`` is the counter's services in priority order. With
    ``use_service_priority`` off (the default) the order only says which services the counter
    serves and §4.3 applies across them; with it on, a higher service comes first within a band.
    ``interleave_after`` = k: after k consecutive priority calls, one walk-in is called if one
    waits.
    """

    service_ids: tuple[int, ...]
    use_service_priority: bool = False
    interleave_after: int | None = None

    def serves(self, service_id: int) -> bool:
        return service_id in self.service_ids

    def service_rank(self, service_id: int) -> int:
        return self.service_ids.index(service_id) if self.use_service_priority else 0


@dataclass(frozen=True, slots=True)
class CallChoice:
    ticket: WaitingTicket
    priority: bool
    priority_streak_after: int = field(default=0)
