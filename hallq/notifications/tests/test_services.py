"""Writing to the outbox: once per subject, kind and occurrence, and only with its cause."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction

from hallq.common import clock
from hallq.notifications.models import Notification, NotificationState, WechatFollower
from hallq.notifications.services import follower_set, notification_enqueue, notifications_retry
from hallq.notifications.tests.factories import make_hall

pytestmark = pytest.mark.django_db

CALL = {"number": "A012", "service": "不动产登记", "counter": "3号窗口"}


def enqueue(subject_id: int = 1, occurrence: int = 0, **options: object) -> bool:
    values: dict[str, object] = {
        "subject_type": "ticket",
        "subject_id": subject_id,
        "kind": "call",
        "occurrence": occurrence,
        "hall_id": None,
        "openid": "o_demo_1",
        "data": CALL,
        "now": clock.now(),
        **options,
    }
    return notification_enqueue(**values)  # type: ignore[arg-type]


def test_the_same_notification_is_enqueued_once_and_the_first_stays():
    hall = make_hall()
    assert enqueue(hall_id=hall.pk) is True
    assert enqueue(hall_id=hall.pk, openid="o_other", data={**CALL, "counter": "9号窗口"}) is False
    assert enqueue(hall_id=hall.pk, occurrence=1) is True
    rows = list(
        Notification.objects.order_by("occurrence").values_list("occurrence", "openid", "data")
    )
    assert rows == [(0, "o_demo_1", CALL), (1, "o_demo_1", CALL)]
    row = Notification.objects.get(occurrence=0)
    assert (row.state, row.attempts, row.hall_id, row.next_attempt_at) == (
        NotificationState.PENDING,
        0,
        hall.pk,
        row.created_at,
    )


def cause_that_fails() -> None:
    with transaction.atomic():
        enqueue()
        raise RuntimeError("the change failed")


def test_a_notification_exists_only_if_its_cause_commits():
    with pytest.raises(RuntimeError, match="the change failed"):
        cause_that_fails()
    assert Notification.objects.count() == 0


def test_a_kind_without_its_facts_is_a_programming_error():
    with pytest.raises(ValueError, match=r"a call notification needs data \['counter'\]"):
        enqueue(data={"number": "A012", "service": "社保"})
    with pytest.raises(ValueError, match="'party_invitation' is not a valid NotificationKind"):
        enqueue(kind="party_invitation")


def test_the_mobile_number_is_encrypted_at_rest():
    enqueue(mobile="13812345678")
    with connection.cursor() as cursor:
        cursor.execute("SELECT mobile FROM notifications_notification")
        stored = cursor.fetchone()[0]
    assert "13812345678" not in stored
    assert Notification.objects.get().mobile == "13812345678"


def test_following_and_unfollowing_update_one_row():
    now = clock.now()
    follower_set(openid="o_demo_1", subscribed=True, now=now)
    follower_set(openid="o_demo_1", subscribed=False, now=now + timedelta(hours=1))
    follower_set(openid="o_demo_1", subscribed=True, now=now + timedelta(hours=2))
    row = WechatFollower.objects.get()
    assert (row.subscribed, row.subscribed_at, row.unsubscribed_at) == (
        True,
        now + timedelta(hours=2),
        now + timedelta(hours=1),
    )


def test_only_failed_notifications_are_retried_and_from_scratch():
    for subject_id in (1, 2):
        enqueue(subject_id=subject_id)
    failed = Notification.objects.get(subject_id=1)
    Notification.objects.filter(pk=failed.pk).update(
        state=NotificationState.FAILED,
        attempts=8,
        last_error="45009 reach max api daily quota limit",
    )
    later = clock.now() + timedelta(hours=1)
    ids = list(Notification.objects.values_list("pk", flat=True))
    assert notifications_retry(notification_ids=ids, now=later) == 1
    failed.refresh_from_db()
    assert (failed.state, failed.attempts, failed.next_attempt_at) == (
        NotificationState.PENDING,
        0,
        later,
    )
    # The old error stays readable until the next attempt replaces it.
    assert failed.last_error == "45009 reach max api daily quota limit"
