"""The ticket's parametric QR code and the custom menu, against the stand-in."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from hallq.common import clock
from hallq.officialaccount.qr import MIN_LIFETIME, qr_lifetime
from hallq.officialaccount.services import ticket_scene
from hallq.queueing.tokens import ticket_token
from hallq.queueing.views import load_ticket

pytestmark = [pytest.mark.django_db, pytest.mark.urls("hallq.officialaccount.tests.urls")]


def qr_of(client, ticket):
    answer = client.get(f"/api/v1/tickets/{ticket.pk}/wechat-qr?token={ticket_token(ticket.pk)}")
    assert answer.status_code == 200
    return answer.json()


def test_a_ticket_gets_a_parametric_code_naming_it_until_the_hall_closes(
    client, sandbox, small_hall
):
    [ticket] = small_hall.issue()
    before = clock.now()

    qr = qr_of(client, ticket)

    assert qr["kind"] == "wechat"
    assert qr["url"].startswith(f"{sandbox.url}/q/sandbox_qr_")
    [code] = sandbox.app.state.qr_tickets.values()
    assert code.scene == ticket_scene(ticket.pk) == f"t.{ticket.pk}.{ticket_token(ticket.pk)}"
    stored = load_ticket(ticket.pk)
    assert stored is not None
    lifetime = qr_lifetime(stored, before)
    assert lifetime >= MIN_LIFETIME
    expires_at = clock.now().fromisoformat(qr["expires_at"])
    # Whole seconds, counted from the moment of the request.
    assert abs(expires_at - (before + lifetime)) < timedelta(seconds=2)
    # The kiosk and the ticket page ask again: the same code, WeChat asked once.
    assert qr_of(client, ticket) == qr
    assert sandbox.stats()["qrcodes_created"] == 1


def test_while_wechat_fails_the_qr_code_is_the_tickets_link(client, sandbox, small_hall):
    [ticket] = small_hall.issue()
    sandbox.post("/sandbox/fail", {"api": "qrcode", "errcode": -1, "count": 1})

    assert qr_of(client, ticket)["kind"] == "link"
    # Not remembered: the next request gets the real code.
    assert qr_of(client, ticket)["kind"] == "wechat"


def test_a_finished_ticket_gets_only_its_link(client, sandbox, small_hall):
    [ticket] = small_hall.issue()
    small_hall.call()
    from hallq.queueing.services import counter_finish

    counter_finish(counter_id=small_hall.counter.pk, now=clock.now())
    assert qr_of(client, ticket)["kind"] == "link"
    assert sandbox.stats().get("qrcodes_created", 0) == 0


def test_the_menu_command_pushes_the_configured_menu(sandbox, settings):
    settings.WECHAT_MENU = [
        {"type": "view", "name": "预约办事", "url": "https://hall.example/book/"},
        {
            "name": "排队",
            "sub_button": [
                {"type": "view", "name": "取号", "url": "https://hall.example/take/"},
                {"type": "view", "name": "我的号票", "url": "https://hall.example/me/ticket/"},
            ],
        },
    ]
    out = StringIO()
    call_command("wechat_menu", stdout=out)
    assert out.getvalue() == "Menu pushed: 2 buttons.\n"
    pushed = sandbox.http.get("/sandbox/menu").json()["button"]
    assert json.dumps(pushed, ensure_ascii=False) == json.dumps(
        settings.WECHAT_MENU, ensure_ascii=False
    )


def test_the_menu_command_refuses_relative_links(sandbox, settings):
    settings.WECHAT_MENU = [{"type": "view", "name": "预约办事", "url": "/book/"}]
    with pytest.raises(CommandError, match="Menu links must be absolute"):
        call_command("wechat_menu")
    assert sandbox.http.get("/sandbox/menu").json()["button"] == []


def test_the_menu_command_needs_the_official_account():
    with pytest.raises(CommandError, match="not configured"):
        call_command("wechat_menu")
