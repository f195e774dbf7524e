"""What the official account keeps of its own: the callback's receipts and the queue pushes'
read position in each hall's event log."""

from __future__ import annotations

from django.db import models


class CallbackReceipt(models.Model):
    """A message or event WeChat delivered to the callback, kept to ignore its redeliveries.

    WeChat redelivers what was not answered within 5 seconds, up to three times in all, and a
    captured request could be replayed later. ``key`` is the SHA-256 of the message's identity
    (MsgId, or FromUserName + CreateTime + Event for events: openids are not stored here). The
    receipt is written in the transaction of the message's effect, so a redelivery is ignored
    exactly when the first delivery's effect committed. Receipts outlive the callback's
    timestamp window (``views.TIMESTAMP_WINDOW``), so a replay is refused by one or the other.
    """

    key = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"receipt {self.key[:12]}"


class PushCursor(models.Model):
    """The last event of a hall's log the queue pushes have handled (``pushes.py``).

    Locked with FOR UPDATE SKIP LOCKED by the worker handling the hall, and advanced in the
    transaction that enqueues the notifications of the events read: events commit in the order
    of their numbers (docs/concurrency.md), so nothing below the cursor can appear later.
    """

    hall = models.OneToOneField("halls.Hall", on_delete=models.CASCADE, primary_key=True)
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.hall_id}: {self.last_seq}"
