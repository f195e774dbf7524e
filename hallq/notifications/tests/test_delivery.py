"""Delivery down the channel chain, against the stand-in: template message to a follower,
else subscription message, else SMS; retries with back-off; every try recorded.

Transactional: the sends run in threads with connections of their own (the access token is
shared through the database), which must see what the test wrote.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from hallq.common import clock
from hallq.common.sms import LocMemBackend
from hallq.notifications import delivery
from hallq.notifications.delivery import MAX_ATTEMPTS, backoff, notifications_deliver
from hallq.notifications.models import DeliveryAttempt, Notification, NotificationState
from hallq.notifications.services import follower_set, notification_enqueue
from hallq.notifications.tests.conftest import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

CALL = {"number": "A012", "service": "不动产登记", "counter": "3号窗口"}
MOBILE = "13812345678"


def enqueue(
    subject_id: int = 1, *, openid: str = "", mobile: str = "", now: datetime | None = None
) -> Notification:
    notification_enqueue(
        subject_type="ticket",
        subject_id=subject_id,
        kind="call",
        hall_id=None,
        openid=openid,
        mobile=mobile,
        data=CALL,
        now=now or clock.now(),
    )
    return Notification.objects.get(subject_id=subject_id)


def tries(notification: Notification) -> list[tuple[str, bool, str]]:
    return list(
        DeliveryAttempt.objects.filter(notification=notification).values_list(
            "channel", "ok", "errcode"
        )
    )


def summary(message: dict[str, Any]) -> tuple[str, str, str, dict[str, str], str]:
    return (
        message["channel"],
        message["to"],
        message["template_id"],
        message["data"],
        message["dedup_key"],
    )


def test_the_back_off_doubles_from_2_seconds_up_to_5_minutes():
    assert [backoff(attempts).total_seconds() for attempts in range(1, 10)] == [
        2,
        4,
        8,
        16,
        32,
        64,
        128,
        256,
        300,
    ]


def test_a_follower_gets_a_template_message(sandbox: Sandbox):
    follower_set(openid="o_demo_1", subscribed=True, now=clock.now())
    notification = enqueue(openid="o_demo_1", mobile=MOBILE)
    now = clock.now()
    assert notifications_deliver(now=now) == 1
    assert [summary(message) for message in sandbox.messages()] == [
        ("template", "o_demo_1", "tpl_call", CALL, f"hallq-{notification.pk}")
    ]
    notification.refresh_from_db()
    assert (notification.state, notification.channel, notification.attempts) == (
        NotificationState.SENT,
        "wechat_template",
        1,
    )
    assert notification.sent_at is not None
    assert notification.sent_at >= now
    assert tries(notification) == [("wechat_template", True, "")]
    assert notifications_deliver(now=now + timedelta(hours=1)) == 0


def test_someone_who_does_not_follow_gets_the_subscription_message_they_accepted(sandbox: Sandbox):
    notification = enqueue(openid="o_demo_5", mobile=MOBILE)
    notifications_deliver(now=clock.now())
    assert [summary(message) for message in sandbox.messages()] == [
        ("subscribe", "o_demo_5", "sub_call", CALL, "")
    ]
    notification.refresh_from_db()
    assert (notification.state, notification.channel) == (
        NotificationState.SENT,
        "wechat_subscribe",
    )


def test_43004_and_43101_move_on_to_the_next_channel_at_once(sandbox: Sandbox):
    # We still think o_demo_5 follows; WeChat knows better. Nor did they accept subscriptions.
    follower_set(openid="o_demo_5", subscribed=True, now=clock.now())
    sandbox.user("o_demo_5", accepts_subscriptions=False)
    notification = enqueue(openid="o_demo_5", mobile=MOBILE)
    notifications_deliver(now=clock.now())
    assert [summary(message) for message in sandbox.messages()] == [
        ("sms", MOBILE, "SMS_call", CALL, f"hallq-{notification.pk}")
    ]
    notification.refresh_from_db()
    assert (notification.state, notification.channel, notification.attempts) == (
        NotificationState.SENT,
        "sms",
        1,
    )
    assert tries(notification) == [
        ("wechat_template", False, "43004"),
        ("wechat_subscribe", False, "43101"),
        ("sms", True, ""),
    ]


def test_no_openid_but_a_mobile_number_gets_an_sms(sandbox: Sandbox, settings):
    settings.SMS_BACKEND = "hallq.common.sms.TencentBackend"
    notification = enqueue(mobile=MOBILE)
    notifications_deliver(now=clock.now())
    assert [summary(message) for message in sandbox.messages()] == [
        (
            "sms",
            MOBILE,
            "SMS_call",
            {"1": "A012", "2": "3号窗口", "3": "不动产登记"},
            f"hallq-{notification.pk}",
        )
    ]
    assert tries(notification) == [("sms", True, "")]


def test_without_an_official_account_the_sms_backend_still_delivers(settings):
    settings.WECHAT_APP_ID = ""
    settings.SMS_BACKEND = "hallq.common.sms.LocMemBackend"
    LocMemBackend.outbox.clear()
    notification = enqueue(openid="o_demo_1", mobile=MOBILE)
    notifications_deliver(now=clock.now())
    [message] = LocMemBackend.outbox
    assert (message.phone, message.template, message.text, message.out_id) == (
        MOBILE,
        "call",
        "请A012号到3号窗口办理不动产登记。",
        f"hallq-{notification.pk}",
    )
    LocMemBackend.outbox.clear()


def test_with_no_way_to_reach_the_citizen_it_fails_at_once_saying_why(sandbox: Sandbox):
    notification = enqueue()
    notifications_deliver(now=clock.now())
    notification.refresh_from_db()
    assert (notification.state, notification.attempts, notification.last_error) == (
        NotificationState.FAILED,
        1,
        "chain: no_channel no channel could be tried: wechat_template: no openid; "
        "wechat_subscribe: no openid; sms: no mobile number",
    )
    assert sandbox.messages() == []


def test_45009_is_retried_with_back_off_until_it_passes(sandbox: Sandbox):
    follower_set(openid="o_demo_1", subscribed=True, now=clock.now())
    sandbox.fail(api="template", errcode=45009, count=3)
    notification = enqueue(openid="o_demo_1", mobile=MOBILE)
    now = clock.now()
    for attempt in (1, 2, 3):
        assert notifications_deliver(now=now) == 1
        notification.refresh_from_db()
        last_try = DeliveryAttempt.objects.filter(notification=notification).last()
        assert last_try is not None
        assert (notification.state, notification.attempts) == (NotificationState.PENDING, attempt)
        assert notification.last_error == "wechat_template: 45009 reach max api daily quota limit"
        assert notification.next_attempt_at == last_try.finished_at + backoff(attempt)
        # Not due a moment before its time.
        assert (
            notifications_deliver(now=notification.next_attempt_at - timedelta(milliseconds=1)) == 0
        )
        now = notification.next_attempt_at
    assert notifications_deliver(now=now) == 1
    notification.refresh_from_db()
    assert (notification.state, notification.attempts, notification.last_error) == (
        NotificationState.SENT,
        4,
        "",
    )
    assert len(sandbox.messages()) == 1


def test_after_the_last_attempt_it_fails_and_the_sms_is_not_tried(sandbox: Sandbox):
    follower_set(openid="o_demo_1", subscribed=True, now=clock.now())
    sandbox.fail(api="template", errcode=-1, count=MAX_ATTEMPTS)
    notification = enqueue(openid="o_demo_1", mobile=MOBILE)
    now = clock.now()
    for _ in range(MAX_ATTEMPTS):
        assert notifications_deliver(now=now) == 1
        notification.refresh_from_db()
        now = notification.next_attempt_at
    assert (notification.state, notification.attempts, notification.last_error) == (
        NotificationState.FAILED,
        MAX_ATTEMPTS,
        "wechat_template: -1 system error",
    )
    assert notifications_deliver(now=now + timedelta(days=1)) == 0
    assert sandbox.messages() == []


def test_a_stand_in_failing_for_a_while_delivers_every_message_once_after_recovery(
    sandbox: Sandbox, settings
):
    settings.WECHAT_TIMEOUT_SECONDS = 0.5
    openids = ["o_demo_1", "o_demo_2", "o_demo_3", "o_demo_4"]
    for openid in openids:
        follower_set(openid=openid, subscribed=True, now=clock.now())
    # 25 sends refused for the daily quota, then 5 that time out but get through meanwhile.
    sandbox.fail(api="template", errcode=45009, count=25)
    sandbox.fail(api="template", timeout_seconds=1.0, deliver=True, count=5)
    for subject_id in range(1, 31):
        enqueue(subject_id, openid=openids[subject_id % 4])
    now = clock.now()
    rounds = 0
    while Notification.objects.exclude(state=NotificationState.SENT).exists():
        assert notifications_deliver(now=now) > 0
        rounds += 1
        now = max(Notification.objects.values_list("next_attempt_at", flat=True))
    assert rounds == 2
    # The timed-out sends arrived; their retries were dropped as duplicates.
    sandbox.wait_for("duplicates_ignored", 5)
    messages = sandbox.messages()
    assert sorted(message["dedup_key"] for message in messages) == sorted(
        f"hallq-{pk}" for pk in Notification.objects.values_list("pk", flat=True)
    )
    assert set(Notification.objects.values_list("state", "attempts")) == {
        (NotificationState.SENT, 2)
    }


def test_a_round_out_of_time_puts_back_what_it_did_not_try(sandbox: Sandbox, monkeypatch):
    monkeypatch.setattr(delivery, "SEND_BUDGET_SECONDS", 0.2)
    follower_set(openid="o_demo_1", subscribed=True, now=clock.now())
    # One person's messages go one after another: the first hangs half a second, then fails,
    # and the round's time is up before the others are tried.
    sandbox.fail(api="template", timeout_seconds=0.5, count=1)
    for subject_id in range(1, 21):
        enqueue(subject_id, openid="o_demo_1")
    now = clock.now()
    assert notifications_deliver(now=now) == 20
    tried = Notification.objects.filter(attempts=1)
    untried = Notification.objects.filter(attempts=0)
    assert (tried.count(), untried.count()) == (1, 19)
    assert set(tried.values_list("state", "last_error")) == {
        (NotificationState.PENDING, "wechat_template: -1 system error")
    }
    assert set(untried.values_list("state", "next_attempt_at", "lease_token")) == {
        (NotificationState.PENDING, now, "")
    }
    assert DeliveryAttempt.objects.filter(notification__in=untried).count() == 0
    assert notifications_deliver(now=now) == 19
    assert len(sandbox.messages()) == 19


def test_one_persons_messages_arrive_in_the_order_they_were_written(sandbox: Sandbox):
    follower_set(openid="o_demo_1", subscribed=True, now=clock.now())
    follower_set(openid="o_demo_2", subscribed=True, now=clock.now())
    for subject_id in range(1, 41):
        enqueue(subject_id, openid="o_demo_1" if subject_id % 2 else "o_demo_2")
    assert notifications_deliver(now=clock.now()) == 40
    for openid in ("o_demo_1", "o_demo_2"):
        sent = sorted((m for m in sandbox.messages() if m["to"] == openid), key=lambda m: m["id"])
        order = [int(m["dedup_key"].rsplit("-", 1)[1]) for m in sent]
        assert len(order) == 20
        assert order == sorted(order)
