"""The locks of booking, in one place (docs/concurrency.md).

Order, when a transaction needs several: the idempotency key's index entry, the citizen's row
(``hallq.citizens.locks.lock_citizen``), then one slot place. Check-in then takes the queue's
locks (ticket sequence, the hall's event counter) after these.
"""

from __future__ import annotations

from hallq.booking.models import SlotPlace


def claim_free_place(slot_id: int) -> int | None:
    """Lock one free place of an open slot and return its id, or None when none is free.

    ``SKIP LOCKED``: places other bookings are claiming at this moment are passed over rather
    than waited for, so a hundred bookings of one slot proceed side by side, each on its own
    place, and once every place is taken the answer "full" comes at once. On SQLite, where a
    write transaction holds the whole database, the same query simply reads the first free one.
    """
    return (
        SlotPlace.objects.select_for_update(skip_locked=True, of=("self",), no_key=True)
        .filter(slot_id=slot_id, appointment=None, slot__is_open=True)
        .order_by("number")
        .values_list("pk", flat=True)
        .first()
    )
