"""Writing to the outbox, and the followers the delivery chain consults."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Field

from hallq.common.db import fetch_all
from hallq.notifications import texts
from hallq.notifications.models import (
    Notification,
    NotificationKind,
    NotificationState,
    WechatFollower,
)
from hallq.notifications.worker import wake

_UNIQUE = ("subject_type", "subject_id", "kind", "occurrence")


def notification_enqueue(
    *,
    subject_type: str,
    subject_id: int,
    kind: NotificationKind | str,
    occurrence: int = 0,
    hall_id: int | None,
    openid: str = "",
    mobile: str = "",
    data: dict[str, str],
    now: datetime,
) -> bool:
    """Put a notification in the outbox, in the caller's transaction: it exists if and only if
    the change that caused it commits. Returns False when it was already there (the same
    subject, kind and occurrence), which leaves the first one as it was.

    ``data`` carries the facts ``texts.DATA_KEYS`` names for the kind (never an ID number).
    """
    kind = NotificationKind(kind)
    missing = texts.missing_keys(kind, data)
    if missing:
        raise ValueError(f"a {kind} notification needs data {missing}")
    row = Notification(
        subject_type=subject_type,
        subject_id=subject_id,
        kind=kind.value,
        occurrence=occurrence,
        hall_id=hall_id,
        openid=openid,
        mobile=mobile,
        data={key: str(value) for key, value in data.items()},
        state=NotificationState.PENDING,
        next_attempt_at=now,
        created_at=now,
    )
    created = _insert_unless_present(row)
    if created:
        transaction.on_commit(wake)
    return created


def _insert_unless_present(row: Notification) -> bool:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: one statement, no read-then-write, and
    unlike ``bulk_create(ignore_conflicts=True)`` it tells whether the row is new. A concurrent
    insert of the same key waits for the other transaction and then does nothing."""
    fields = _insert_fields()
    values = [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
    return bool(fetch_all(_insert_text(), values))


@functools.cache
def _insert_fields() -> list[Field[Any, Any]]:
    return [field for field in Notification._meta.concrete_fields if not field.primary_key]


@functools.cache
def _insert_text() -> str:
    quote = connection.ops.quote_name  # the same quoting on PostgreSQL and SQLite
    columns = ", ".join(quote(str(field.column)) for field in _insert_fields())
    placeholders = ", ".join(["%s"] * len(_insert_fields()))
    conflict = ", ".join(quote(name) for name in _UNIQUE)
    return (
        f"INSERT INTO {quote(Notification._meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608 - names from the model, values bound
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {quote('id')}"
    )


def follower_set(*, openid: str, subscribed: bool, now: datetime) -> None:
    """Record a subscribe or unsubscribe event of the official account (one upsert)."""
    moment = "subscribed_at" if subscribed else "unsubscribed_at"
    WechatFollower.objects.bulk_create(
        [WechatFollower(openid=openid, subscribed=subscribed, **{moment: now})],
        update_conflicts=True,
        unique_fields=["openid"],
        update_fields=["subscribed", moment],
    )


def notifications_retry(*, notification_ids: Iterable[int], now: datetime) -> int:
    """Give failed notifications a fresh round of attempts (the administrator's "retry");
    returns how many. Only failed ones: a pending, sending or sent one is left alone."""
    with transaction.atomic():
        retried = Notification.objects.filter(
            pk__in=list(notification_ids), state=NotificationState.FAILED
        ).update(
            state=NotificationState.PENDING,
            attempts=0,
            next_attempt_at=now,
            leased_until=None,
            lease_token="",
        )
        if retried:
            transaction.on_commit(wake)
    return retried
