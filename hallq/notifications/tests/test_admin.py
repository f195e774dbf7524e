"""Notifications in the back office: scoped to the administrator's halls, read-only, mobile
numbers masked; failed ones retried; the dashboard's delivery rate and latency."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from hallq.halls.models import Hall, HallMembership
from hallq.notifications.models import Notification, NotificationState
from hallq.notifications.services import notification_enqueue
from hallq.notifications.tests.factories import make_hall

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALL = {"number": "A012", "service": "不动产登记", "counter": "3号窗口"}
URL = "/admin/notifications/notification/"


def add(
    hall: Hall, subject_id: int, *, state: str, created: datetime, latency: float = 0
) -> Notification:
    notification_enqueue(
        subject_type="ticket",
        subject_id=subject_id,
        kind="call",
        hall_id=hall.pk,
        mobile="13812345678",
        data=CALL,
        now=created,
    )
    sent_at = created + timedelta(seconds=latency) if state == NotificationState.SENT else None
    Notification.objects.filter(subject_id=subject_id).update(
        state=state,
        sent_at=sent_at,
        last_error="45009 reach max api daily quota limit"
        if state == NotificationState.FAILED
        else "",
    )
    return Notification.objects.get(subject_id=subject_id)


@pytest.fixture
def halls() -> tuple[Hall, Hall]:
    return make_hall("东城大厅"), make_hall("西城大厅")


@pytest.fixture
def admin_client(client: Client, halls: tuple[Hall, Hall]) -> Client:
    user = get_user_model().objects.create_user("east-admin", password="x", is_staff=True)
    HallMembership.objects.create(user=user, hall=halls[0], is_hall_admin=True)
    client.force_login(user)
    return client


def test_an_administrator_sees_the_own_halls_notifications_with_the_number_masked(
    admin_client, halls
):
    now = datetime.now(SHANGHAI)
    own = add(halls[0], 1, state=NotificationState.FAILED, created=now)
    other = add(halls[1], 2, state=NotificationState.FAILED, created=now)
    listing = admin_client.get(URL)
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [own]
    assert admin_client.get(f"{URL}{other.pk}/change/").status_code == 302  # not found: home
    detail = admin_client.get(f"{URL}{own.pk}/change/")
    assert detail.status_code == 200
    assert b"138****5678" in detail.content
    assert b"13812345678" not in detail.content
    assert b"45009 reach max api daily quota limit" in detail.content
    assert admin_client.get(f"{URL}add/").status_code == 403


def test_the_retry_action_retries_the_failed_notifications_of_the_own_halls(admin_client, halls):
    now = datetime.now(SHANGHAI)
    failed = add(halls[0], 1, state=NotificationState.FAILED, created=now)
    sent = add(halls[0], 2, state=NotificationState.SENT, created=now)
    other = add(halls[1], 3, state=NotificationState.FAILED, created=now)
    response = admin_client.post(
        URL, {"action": "retry", "_selected_action": [failed.pk, sent.pk, other.pk]}, follow=True
    )
    assert response.status_code == 200
    states = dict(Notification.objects.values_list("subject_id", "state"))
    assert states == {
        1: NotificationState.PENDING,
        2: NotificationState.SENT,
        3: NotificationState.FAILED,
    }
    assert [str(message) for message in response.context["messages"]] == ["1 条通知将重新发送。"]


def test_the_dashboard_shows_rate_and_latency_per_hall_and_day(admin_client, halls):
    today = datetime.now(SHANGHAI).replace(hour=10, minute=0, second=0, microsecond=0)
    if today > datetime.now(SHANGHAI):
        today -= timedelta(days=1)
    yesterday = today - timedelta(days=1)
    for subject_id, latency in enumerate([1.0, 2.0, 3.0, 40.0], start=1):
        add(halls[0], subject_id, state=NotificationState.SENT, created=today, latency=latency)
    add(halls[0], 10, state=NotificationState.FAILED, created=today)
    add(halls[0], 11, state=NotificationState.SENT, created=yesterday, latency=0.5)
    add(halls[1], 20, state=NotificationState.SENT, created=today, latency=9)
    response = admin_client.get(f"{URL}dashboard/")
    assert response.status_code == 200
    rows = [
        (
            row.hall_name,
            row.day,
            row.created,
            row.sent,
            row.failed,
            row.latency_p50,
            row.latency_p99,
        )
        for row in response.context["days"]
    ]
    assert rows == [
        ("东城大厅", today.date(), 5, 4, 1, 2.0, 40.0),
        ("东城大厅", yesterday.date(), 1, 1, 0, 0.5, 0.5),
    ]
    assert "最近 7 天产生的通知" in response.content.decode()
    assert "80%" in response.content.decode()
    assert "西城大厅" not in response.content.decode()
