"""The locks the official account takes (docs/concurrency.md).

The queue pushes take a hall's push cursor first and hold it to commit; what they write after it
(notifications, an owner copied to a transferred ticket) takes no lock the queue's own services
could hold while waiting for them.
"""

from __future__ import annotations

from hallq.officialaccount.models import PushCursor


def claim_push_cursor(hall_id: int) -> PushCursor | None:
    """The hall's push cursor, locked; None while another worker handles the hall.

    FOR UPDATE SKIP LOCKED on PostgreSQL. SQLite ignores it: a write transaction there already
    holds the database's write lock, so the second worker reads the cursor the first advanced.
    """
    return PushCursor.objects.select_for_update(skip_locked=True).filter(hall_id=hall_id).first()
