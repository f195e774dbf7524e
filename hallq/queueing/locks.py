"""Every lock the queue takes, in one place (docs/concurrency.md).

Order, when a transaction needs several: counter (by pk), then ticket sequence, then the hall's
event counter (taken last, by ``event_record``). Ticket state changes take no lock of their own:
they are conditional updates (``UPDATE … WHERE state = 'waiting'``) that lose cleanly.
"""

from __future__ import annotations

from datetime import date

from django.db import connection, transaction

from hallq.halls.models import Counter
from hallq.queueing.models import ACTIVE_AT_COUNTER, Ticket, TicketSequence
from hallq.queueing.selectors import forget_capacity


def lock_counter(counter_id: int) -> Counter:
    """Serialise actions on one counter (two clicks on "call next" make two calls, in turn)."""
    return lock_counter_at_work(counter_id)[0]


def lock_counter_at_work(counter_id: int) -> tuple[Counter, Ticket | None]:
    """Lock the counter, then read the ticket called to or served at it.

    Only the counter's own row is locked (``of=("self",)``): a plain FOR UPDATE over the join
    would lock the hall's row too and serialise every counter of the hall. NO KEY UPDATE lets
    tickets keep referencing the counter meanwhile. The ticket is read after the lock is ours,
    by a statement of its own: a second click on "call next" then sees the first one's call. It
    stays where it is meanwhile: every change of a ticket at a counter locks the counter first.
    """
    counter = (
        Counter.objects.select_for_update(of=("self",), no_key=True)
        .select_related("hall")
        .get(pk=counter_id)
    )
    ticket = Ticket.objects.filter(counter_id=counter_id, state__in=ACTIVE_AT_COUNTER).first()
    # Whatever the action, the hall's open and idle counters may change with it: forgotten now
    # for this thread's next read, and again at commit for what others read meanwhile.
    hall_id = counter.hall_id
    forget_capacity(hall_id)
    transaction.on_commit(lambda: forget_capacity(hall_id))
    return counter, ticket


def take_ticket_sequence(*, hall_id: int, service_id: int, service_date: date) -> int:
    """The next number of a service's day: one atomic increment, unique under any concurrency."""
    table = TicketSequence._meta.db_table
    sql = (
        f"UPDATE {table} SET last_number = last_number + 1 "  # noqa: S608
        "WHERE service_id = %s AND service_date = %s RETURNING last_number"
    )
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(sql, [service_id, service_date])
            row = cursor.fetchone()
        if row is not None:
            return int(row[0])
        TicketSequence.objects.bulk_create(
            [TicketSequence(hall_id=hall_id, service_id=service_id, service_date=service_date)],
            ignore_conflicts=True,
        )
    raise RuntimeError("ticket sequence could not be created")
