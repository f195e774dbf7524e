"""The event log (§2 Event): every change of a ticket or counter, in order, per hall."""

from __future__ import annotations

from django.db import models


class HallEventCounter(models.Model):
    """The last event number given out in a hall.

    Incrementing it takes the row lock until commit, so a hall's events commit in the order of
    their numbers and the numbers have no holes: a subscriber that sees a jump knows exactly
    which events to fetch. See docs/concurrency.md.
    """

    hall = models.OneToOneField("halls.Hall", on_delete=models.CASCADE, primary_key=True)
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.hall_id}: {self.last_seq}"


class Event(models.Model):
    # No index of its own: event_seq_unique_in_hall begins with the hall. No foreign key in the
    # database either (deleting a hall still deletes its events: Django cascades): every event
    # is written in the transaction that takes its hall's HallEventCounter row, whose own key
    # says the hall exists, while the key's check at each commit locked the hall's row
    # (FOR KEY SHARE) for every call and start of the hall at once.
    hall = models.ForeignKey(
        "halls.Hall",
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=40)
    # Plain ids, not foreign keys: the log outlives and does not depend on the queue's tables.
    ticket_id = models.BigIntegerField(null=True, blank=True)
    service_id = models.BigIntegerField(null=True, blank=True)
    counter_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hall", "seq"], name="event_seq_unique_in_hall")
        ]
        indexes = [models.Index(fields=["ticket_id"], name="event_ticket")]

    def __str__(self) -> str:
        return f"{self.hall_id}#{self.seq} {self.kind}"
