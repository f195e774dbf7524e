"""At most once with several workers and across a crash: real threads, a real process killed
with SIGKILL, and the stand-in counting what reaches it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from hallq.common import clock
from hallq.conftest import BASE_DIR, database_url
from hallq.notifications.delivery import LEASE, LEASE_EXPIRED, notifications_deliver
from hallq.notifications.models import DeliveryAttempt, Notification, NotificationState
from hallq.notifications.services import follower_set, notification_enqueue
from hallq.notifications.tests.conftest import APP_ID, APP_SECRET, Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

OPENIDS = ["o_demo_1", "o_demo_2", "o_demo_3", "o_demo_4"]


def enqueue_calls(count: int) -> None:
    now = clock.now()
    for openid in OPENIDS:
        follower_set(openid=openid, subscribed=True, now=now)
    for subject_id in range(1, count + 1):
        notification_enqueue(
            subject_type="ticket",
            subject_id=subject_id,
            kind="call",
            hall_id=None,
            openid=OPENIDS[subject_id % len(OPENIDS)],
            data={"number": f"A{subject_id:03d}", "service": "社保", "counter": "1号窗口"},
            now=now,
        )


def test_two_workers_racing_on_200_notifications_send_each_exactly_once(sandbox: Sandbox):
    enqueue_calls(200)
    barrier = threading.Barrier(2)

    def worker(_: int) -> int:
        tried = 0
        try:
            barrier.wait(timeout=10)
            while delivered := notifications_deliver(now=clock.now(), limit=20):
                tried += delivered
            return tried
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        per_worker = list(pool.map(worker, range(2)))
    assert sum(per_worker) == 200
    assert min(per_worker) > 0  # the race was real: both claimed some
    keys = [message["dedup_key"] for message in sandbox.messages()]
    assert len(keys) == 200
    assert len(set(keys)) == 200
    # Not even a duplicate the stand-in had to drop: no notification was sent twice.
    assert sandbox.stats().get("duplicates_ignored", 0) == 0
    assert set(Notification.objects.values_list("state", "attempts")) == {
        (NotificationState.SENT, 1)
    }


def test_a_worker_killed_mid_delivery_loses_nothing_and_sends_nothing_twice(
    sandbox: Sandbox, tmp_path: Path
):
    enqueue_calls(10)
    # Every send hangs 2 s at the stand-in, which then accepts it: the worker is killed while
    # holding its leases, after WeChat got (some of) the messages.
    sandbox.fail(api="template", timeout_seconds=2, deliver=True, count=10)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "HALLQ_SECRET_KEY": settings.SECRET_KEY,
        "HALLQ_LOG_LEVEL": "warning",
        "HALLQ_WECHAT_APP_ID": APP_ID,
        "HALLQ_WECHAT_APP_SECRET": APP_SECRET,
        "HALLQ_WECHAT_API_BASE": sandbox.url,
        "HALLQ_WECHAT_TIMEOUT_SECONDS": "30",
    }
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), "worker"],
            env=env,
            cwd=BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        sandbox.wait_for("failures_injected", 8, seconds=30)  # 8 sends in flight
        assert Notification.objects.filter(state=NotificationState.SENDING).count() == 10
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    # Before the lease ends nobody touches the rows.
    assert notifications_deliver(now=clock.now()) == 0
    sandbox.wait_for("template_sent", 8)  # the stand-in finished what the dead worker began
    time.sleep(0.1)

    assert notifications_deliver(now=clock.now() + LEASE + timedelta(seconds=1)) == 10
    assert sandbox.stats()["duplicates_ignored"] == 8
    keys = [message["dedup_key"] for message in sandbox.messages()]
    assert sorted(keys) == sorted(
        f"hallq-{pk}" for pk in Notification.objects.values_list("pk", flat=True)
    )
    assert set(Notification.objects.values_list("state", "attempts")) == {
        (NotificationState.SENT, 2)
    }
    assert DeliveryAttempt.objects.filter(errcode=LEASE_EXPIRED, channel="").count() == 10


def test_a_worker_whose_lease_ran_out_cannot_overwrite_the_result_of_the_one_that_took_over(
    sandbox: Sandbox,
):
    enqueue_calls(1)
    # The first worker's send hangs 1.5 s (then gets through): long enough for its lease to be
    # taken over, as the second worker's clock says.
    sandbox.fail(api="template", timeout_seconds=1.5, deliver=True, count=1)

    def slow_worker() -> int:
        try:
            return notifications_deliver(now=clock.now())
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(slow_worker)
        sandbox.wait_for("failures_injected", 1)
        assert notifications_deliver(now=clock.now() + LEASE + timedelta(seconds=1)) == 1
        taken_over = Notification.objects.get()
        assert slow.result() == 1
    notification = Notification.objects.get()
    assert (notification.state, notification.attempts, notification.sent_at) == (
        NotificationState.SENT,
        2,
        taken_over.sent_at,
    )
    assert list(DeliveryAttempt.objects.order_by("pk").values_list("channel", "ok", "errcode")) == [
        ("", False, LEASE_EXPIRED),
        ("wechat_template", True, ""),
        ("wechat_template", True, ""),
    ]
    sandbox.wait_for("duplicates_ignored", 1)
    assert len(sandbox.messages()) == 1
