"""Delivering the outbox: claim due notifications, send them down the channel chain, record.

At most once per notification and channel, with any number of workers and across crashes:

- A worker claims a batch in one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
  so workers never claim the same rows; SQLite serialises the claim). The claim marks the rows
  ``sending`` under a lease: a fresh lease token, and a deadline in ``next_attempt_at``.
- The sends happen outside any transaction, a few at a time in threads.
- The results are written in one transaction, fenced by the lease token: a worker whose lease
  ran out while it was sending (and whose rows another worker claimed) changes nothing.
- A worker that dies mid-delivery leaves its rows ``sending``; when the lease ends another
  worker claims and sends them again with the same dedup id (WeChat's ``client_msg_id``, the
  SMS ``out_id``), which the vendor drops if the first send got through. The same holds for a
  retry after a timeout. WeChat's template messages honour the id; its subscription messages
  take none, and the SMS gateways do not promise to: there, such a retry may send twice.

Delivery failures are data, not exceptions: each try is a ``DeliveryAttempt``; a transient
failure is retried with exponential back-off, up to ``MAX_ATTEMPTS`` rounds.
"""

from __future__ import annotations

import logging
import queue
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import F, Field

from hallq.notifications.channels import Channel, Message, Outcome, default_chain
from hallq.notifications.models import (
    DUE_STATES,
    DeliveryAttempt,
    Notification,
    NotificationState,
    WechatFollower,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_FACTOR = 2
BACKOFF_CAP = timedelta(minutes=5)
LEASE = timedelta(minutes=2)
# A round starts no send after this much of its lease has gone (say every send timed out):
# what it did not try goes back to the queue, so no lease runs out while its worker lives.
SEND_BUDGET_SECONDS = LEASE.total_seconds() / 2
SEND_THREADS = 8

LEASE_EXPIRED = "lease_expired"


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th round failed: 2 s, 4 s, 8 s … at most 5 minutes."""
    return min(BACKOFF_BASE * BACKOFF_FACTOR ** max(attempts - 1, 0), BACKOFF_CAP)


@dataclass(frozen=True, slots=True)
class Try:
    """One channel's try at one message, timed from the round's start."""

    channel: str
    started: float
    finished: float
    outcome: Outcome


def notifications_deliver(
    *, now: datetime, limit: int = 100, chain: Callable[[], Sequence[Channel]] = default_chain
) -> int:
    """Deliver up to ``limit`` due notifications; returns how many were tried.

    Times written are ``now`` plus the time the round has taken so far.
    """
    started = time.monotonic()
    token = uuid.uuid4().hex
    claimed, followers = _claim(now=now, limit=limit, token=token)
    if not claimed:
        return 0
    channels = chain()
    messages = [
        Message(
            notification_id=row.pk,
            kind=row.kind,
            openid=row.openid,
            mobile=row.mobile,
            data=dict(row.data),
            follower=row.openid in followers,
        )
        for row in claimed
    ]
    tries = _send_all(messages, channels, started)
    _record(claimed, tries, token=token, now=now)
    return len(claimed)


def _claim(*, now: datetime, limit: int, token: str) -> tuple[list[Notification], set[str]]:
    lease_end = now + LEASE
    with transaction.atomic():
        due = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(state__in=DUE_STATES, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("pk", "state")[:limit]
        )
        if not due:
            return [], set()
        ids = [pk for pk, _ in due]
        Notification.objects.filter(pk__in=ids).update(
            state=NotificationState.SENDING,
            attempts=F("attempts") + 1,
            next_attempt_at=lease_end,
            leased_until=lease_end,
            lease_token=token,
        )
        # A row still "sending" was claimed by a worker that stopped before it recorded how
        # the send went: say so, then send again (the vendor drops a duplicate).
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(
                notification_id=pk,
                channel="",
                started_at=now,
                finished_at=now,
                ok=False,
                errcode=LEASE_EXPIRED,
                error="the lease ran out before the worker recorded a result; sending again",
            )
            for pk, state in due
            if state == NotificationState.SENDING
        )
    claimed = list(Notification.objects.filter(pk__in=ids, lease_token=token).order_by("pk"))
    openids = {row.openid for row in claimed if row.openid}
    followers = set(
        WechatFollower.objects.filter(openid__in=openids, subscribed=True).values_list(
            "openid", flat=True
        )
    )
    return claimed, followers


def _send_down_the_chain(message: Message, channels: Sequence[Channel], origin: float) -> list[Try]:
    tries: list[Try] = []
    skipped: list[str] = []
    for channel in channels:
        reason = channel.skip_reason(message)
        if reason is not None:
            skipped.append(f"{channel.name}: {reason}")
            continue
        started = time.monotonic() - origin
        try:
            outcome = channel.send(message)
        except Exception as error:
            logger.exception(
                "channel %s failed on notification %s", channel.name, message.notification_id
            )
            outcome = Outcome(
                ok=False, errcode="exception", error=type(error).__name__, transient=True
            )
        tries.append(Try(channel.name, started, time.monotonic() - origin, outcome))
        if outcome.ok or outcome.transient:
            break
    if not tries:
        elapsed = time.monotonic() - origin
        nothing = Outcome(
            ok=False, errcode="no_channel", error="no channel could be tried: " + "; ".join(skipped)
        )
        tries.append(Try("", elapsed, elapsed, nothing))
    return tries


def _send_all(
    messages: list[Message], channels: Sequence[Channel], origin: float
) -> list[list[Try]]:
    """Each message down the chain, ``SEND_THREADS`` at a time; the tries in message order.

    One person's messages go one after another, in the order they were written, so a pre-call
    never overtakes the call that follows it; different people's go side by side.
    """
    results: list[list[Try]] = [[] for _ in messages]
    by_recipient: dict[str, list[int]] = {}
    for index, message in enumerate(messages):
        recipient = message.openid or message.mobile or f"#{message.notification_id}"
        by_recipient.setdefault(recipient, []).append(index)
    pending = queue.SimpleQueue[list[int]]()
    for group in by_recipient.values():
        pending.put(group)

    def sender() -> None:
        try:
            while True:
                try:
                    group = pending.get_nowait()
                except queue.Empty:
                    return
                for index in group:
                    if time.monotonic() - origin > SEND_BUDGET_SECONDS:
                        continue  # not tried: no tries
                    results[index] = _send_down_the_chain(messages[index], channels, origin)
        finally:
            # A channel may have read the database (the WeChat access token): the thread
            # gives its connection back before it ends.
            connection.close()

    senders = min(SEND_THREADS, len(by_recipient))
    with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="send") as pool:
        for running in [pool.submit(sender) for _ in range(senders)]:
            running.result()
    return results


_OUTCOME_COLUMNS = ("state", "attempts", "channel", "sent_at", "next_attempt_at", "last_error")


def _record(
    claimed: list[Notification],
    tries: list[list[Try]],
    *,
    token: str,
    now: datetime,
) -> None:
    def at(offset: float) -> datetime:
        return now + timedelta(seconds=offset)

    attempts: list[DeliveryAttempt] = []
    for row, row_tries in zip(claimed, tries, strict=True):
        for attempt in row_tries:
            if attempt.channel:
                attempts.append(
                    DeliveryAttempt(
                        notification_id=row.pk,
                        channel=attempt.channel,
                        started_at=at(attempt.started),
                        finished_at=at(attempt.finished),
                        ok=attempt.outcome.ok,
                        errcode=attempt.outcome.errcode,
                        error=attempt.outcome.error,
                    )
                )
        _conclude(row, row_tries, at)
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create(attempts)
        _write_outcomes(claimed, token)


def _write_outcomes(rows: list[Notification], token: str) -> None:
    """One prepared UPDATE per row, sent as a batch (``executemany``): the ORM's
    ``bulk_update`` builds a CASE per column and costs a millisecond a row in Python.

    Fenced by the lease token: a row another worker has claimed since is left to it.
    """
    quote = connection.ops.quote_name
    fields = [
        cast("Field[Any, Any]", Notification._meta.get_field(name)) for name in _OUTCOME_COLUMNS
    ]
    assignments = ", ".join(f"{quote(str(field.column))} = %s" for field in fields)
    sql = (
        f"UPDATE {quote(Notification._meta.db_table)} SET {assignments}, "  # noqa: S608 - names from the model, values bound
        f"{quote('leased_until')} = NULL, {quote('lease_token')} = '' "
        f"WHERE {quote('id')} = %s AND {quote('lease_token')} = %s AND {quote('state')} = %s"
    )
    values = [
        [
            *(field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields),
            row.pk,
            token,
            NotificationState.SENDING.value,
        ]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def _conclude(row: Notification, tries: list[Try], at: Callable[[float], datetime]) -> None:
    """Set the row's outcome (in memory): sent, to be retried, or failed."""
    if not tries:
        # The round ran out of time before this one: it did not count as an attempt.
        row.state = NotificationState.PENDING
        row.attempts -= 1
        row.next_attempt_at = at(0)
        return
    last = tries[-1]
    if last.outcome.ok:
        row.state = NotificationState.SENT
        row.channel = last.channel
        row.sent_at = at(last.finished)
        row.last_error = ""
        return
    row.last_error = "; ".join(
        f"{attempt.channel or 'chain'}: {attempt.outcome.errcode} {attempt.outcome.error}".strip()
        for attempt in tries
    )[:2000]
    if last.outcome.transient and row.attempts < MAX_ATTEMPTS:
        row.state = NotificationState.PENDING
        row.next_attempt_at = at(last.finished) + backoff(row.attempts)
    else:
        row.state = NotificationState.FAILED
