"""From a scan to the call on the citizen's phone, through the real pieces: hallq served over
HTTP (pytest-django's live server), the stand-in sending WeChat's signed events to its callback
and receiving the messages, the queue pushes and the notification delivery."""

from __future__ import annotations

import pytest

from hallq.common import clock
from hallq.notifications.delivery import notifications_deliver
from hallq.officialaccount.pushes import queue_pushes_run
from hallq.queueing import services as queue
from hallq.queueing.models import Ticket, TicketState
from hallq.queueing.tokens import ticket_token

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("hallq.officialaccount.tests.urls"),
]

CITIZEN = "o_demo_1"


@pytest.fixture
def wechat_to_hallq(sandbox, live_server):
    sandbox.send_events_to(f"{live_server.url}/wechat/callback")
    return sandbox


def push() -> None:
    """One round of the worker: the queue pushes, then the delivery."""
    queue_pushes_run(now=clock.now())
    notifications_deliver(now=clock.now())


def serve_next(small_hall) -> Ticket | None:
    current = Ticket.objects.filter(counter=small_hall.counter, state=TicketState.CALLED).first()
    if current is not None:
        queue.counter_start(counter_id=small_hall.counter.pk, now=clock.now())
    return small_hall.call()


def qr_ticket(client, ticket: Ticket) -> str:
    answer = client.get(f"/api/v1/tickets/{ticket.pk}/wechat-qr?token={ticket_token(ticket.pk)}")
    assert answer.json()["kind"] == "wechat"
    return str(answer.json()["url"].rsplit("/", 1)[1])


def received(sandbox) -> list[tuple[str, dict[str, str]]]:
    return [(m["template_id"], m["data"]) for m in sandbox.messages(CITIZEN)]


def test_a_scanned_ticket_hears_one_pre_call_one_call_and_one_more_per_recall(
    client, wechat_to_hallq, small_hall
):
    sandbox = wechat_to_hallq
    mine = small_hall.issue(6)[5]

    scan = sandbox.post("/sandbox/scan", {"openid": CITIZEN, "ticket": qr_ticket(client, mine)})
    assert (scan["event"], scan["status"]) == ("SCAN", 200)
    assert scan["reply"] == "已绑定 A006 号，叫号前将提醒您"

    serve_next(small_hall)  # A001: 4 ahead of A006
    push()
    assert received(sandbox) == []
    serve_next(small_hall)  # A002: 3 ahead
    push()
    push()
    pre_call = ("tpl_pre_call", {"number": "A006", "service": "社保卡办理", "ahead": "3"})
    assert received(sandbox) == [pre_call]
    for _ in range(3):  # A003, A004, A005
        serve_next(small_hall)
        push()
    assert received(sandbox) == [pre_call]

    serve_next(small_hall)  # A006
    push()
    push()
    called = {"number": "A006", "service": "社保卡办理", "counter": "3号窗口 社保"}
    assert received(sandbox) == [pre_call, ("tpl_call", called)]

    queue.counter_recall(counter_id=small_hall.counter.pk, now=clock.now())
    push()
    push()
    assert received(sandbox) == [pre_call, ("tpl_call", called), ("tpl_recall", called)]
    assert {m["channel"] for m in sandbox.messages(CITIZEN)} == {"template"}


def test_wechat_redelivering_a_scan_binds_once_and_a_forged_scene_binds_nothing(
    client, wechat_to_hallq, small_hall
):
    sandbox = wechat_to_hallq
    first, second = small_hall.issue(2)

    scans = sandbox.post(
        "/sandbox/scan", {"openid": CITIZEN, "ticket": qr_ticket(client, first), "repeat": 3}
    )
    assert scans["deliveries"] == [
        {"status": 200, "reply": "已绑定 A001 号，叫号前将提醒您"},
        {"status": 200, "reply": None},
        {"status": 200, "reply": None},
    ]
    forged = sandbox.post(
        "/sandbox/scan",
        {"openid": "o_demo_2", "scene": f"t.{second.pk}.{ticket_token(first.pk)}"},
    )
    assert (forged["status"], forged["reply"]) == (200, "该二维码无效。")
    owners = dict(Ticket.objects.values_list("number", "owner_openid"))
    assert owners == {"A001": CITIZEN, "A002": ""}


def test_someone_who_does_not_follow_the_account_follows_it_by_scanning(
    client, wechat_to_hallq, small_hall
):
    sandbox = wechat_to_hallq
    [ticket] = small_hall.issue()
    scan = sandbox.post(
        "/sandbox/scan", {"openid": "o_demo_5", "ticket": qr_ticket(client, ticket)}
    )
    assert (scan["event"], scan["reply"]) == ("subscribe", "已绑定 A001 号，叫号前将提醒您")
    push()  # Nobody is ahead: the pre-call was due the moment the ticket was bound.
    assert [m["template_id"] for m in sandbox.messages("o_demo_5")] == ["tpl_pre_call"]

    small_hall.call()
    push()
    assert [m["template_id"] for m in sandbox.messages("o_demo_5")] == ["tpl_pre_call", "tpl_call"]
