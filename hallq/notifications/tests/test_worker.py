"""The delivery loop of ``hallq worker``: woken when a notification commits in its process."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import transaction

from hallq.common import clock, worker
from hallq.common.sms import LocMemBackend
from hallq.notifications import worker as delivery_worker
from hallq.notifications.models import Notification, NotificationState
from hallq.notifications.services import notification_enqueue

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_registered_delivery_loop_delivers_as_soon_as_the_notification_commits(
    settings, monkeypatch
):
    settings.WECHAT_APP_ID = ""
    settings.SMS_BACKEND = "hallq.common.sms.LocMemBackend"
    LocMemBackend.outbox.clear()
    # Polling so rarely that only the wake-up on commit can explain a quick delivery.
    monkeypatch.setattr(delivery_worker, "POLL_SECONDS", 30)
    run_delivery = worker.registered_loops()["notifications_delivery"]
    stop = threading.Event()
    loop = threading.Thread(target=run_delivery, args=(stop,))
    loop.start()
    try:
        time.sleep(0.2)  # the loop's first look finds nothing and waits
        started = time.monotonic()
        with transaction.atomic():
            notification_enqueue(
                subject_type="ticket",
                subject_id=7,
                kind="pre_call",
                hall_id=None,
                mobile="13812345678",
                data={"number": "A007", "service": "社保", "ahead": "3"},
                now=clock.now(),
            )
        while not LocMemBackend.outbox and time.monotonic() - started < 5:
            time.sleep(0.01)
        assert time.monotonic() - started < 2
        assert [message.text for message in LocMemBackend.outbox] == [
            "您的号码A007（社保）前面还有3人，请留意叫号。"
        ]
        deadline = time.monotonic() + 5
        while Notification.objects.get().state != NotificationState.SENT:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        stop.set()
        delivery_worker.wake()
        loop.join(timeout=5)
        LocMemBackend.outbox.clear()
    assert not loop.is_alive()
