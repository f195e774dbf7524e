"""The locks of booking, in one place (docs/concurrency.md).

Order, when a transaction needs several: the citizen's row (``hallq.citizens.locks``), then one
slot place, claimed by the statement that reads the citizen's limits after their lock. A
booking's idempotency key is inserted after both, under the citizen's lock, so it never waits.
Check-in then takes the queue's locks (ticket sequence, the hall's event counter) after these.
"""

from __future__ import annotations

from django.db import connection

from hallq.booking.models import Slot, SlotPlace


def free_place_claim_sql() -> str:
    """The claim of one free place of an open slot: a query with one parameter, the slot's id,
    giving the place's id or no row. ``booking.selectors.citizen_bookings`` runs it as a
    ``WITH`` of its statement under the citizen's lock, so a booking's claim costs no round trip
    of its own.

    ``SKIP LOCKED``: places other bookings are claiming at this moment are passed over rather
    than waited for, so a hundred bookings of one slot proceed side by side, each on its own
    place, and once every place is taken the answer "full" comes at once. On SQLite, where a
    write transaction holds the whole database, the same query simply reads the first free one.
    Raw SQL: it runs in every booking, and the ORM's compilation cost more than the query.
    """
    sql = (
        f"SELECT p.id FROM {SlotPlace._meta.db_table} p "  # noqa: S608 - the models' tables
        f"JOIN {Slot._meta.db_table} s ON s.id = p.slot_id "
        "WHERE p.slot_id = %s AND p.appointment_id IS NULL AND s.is_open "
        "ORDER BY p.number LIMIT 1"
    )
    if connection.features.has_select_for_update:
        sql += " " + connection.ops.for_update_sql(
            skip_locked=True,
            of=("p",),
            no_key=connection.features.has_select_for_no_key_update,
        )
    return sql
