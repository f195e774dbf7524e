"""The pages' side of the official account (§5, §6): the kiosk's WeChat QR code, the ticket
page's binding and pre-call distance, and the sign-in page's WeChat path."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import segno
from django.test import Client

from hallq.halls.models import Counter
from hallq.officialaccount.proofs import openid_proof
from hallq.queueing.models import Ticket
from hallq.web.tests.conftest import Sandbox
from hallq.web.tests.test_citizen_pages import STATIC, TRANSLATED_KEY, html_of
from hallq.web.tests.test_pages import issue_ticket, page_messages

pytestmark = pytest.mark.django_db

BIND_LINK = re.compile(
    r'<a class="btn btn-wechat btn-block" id="wechat-bind" href="([^"]+)"( hidden)?>'
)
BOUND = re.compile(r'<p class="wechat-bound" id="wechat-bound"( hidden)?>')
SELECTED = re.compile(r'<option value="(\d+)" selected>')


def svg_of(content: str) -> bytes:
    """The QR code of ``content`` as the pages draw it."""
    svg = io.BytesIO()
    segno.make(content, error="m").save(
        svg, kind="svg", border=2, xmldecl=False, omitsize=True, light="#fff"
    )
    return svg.getvalue()


def wechat_qr_svg(client: Client, ticket: dict[str, Any], token: str | None = None) -> Any:
    query = {"token": ticket["token"] if token is None else token}
    return client.get(f"/t/{ticket['id']}/wechat-qr.svg", query)


# ------------------------------------------------------------------ the kiosk's QR code


def test_without_the_account_the_printed_qr_is_the_ticket_page(
    client: Client, demo: dict[str, Any]
) -> None:
    ticket = issue_ticket(client, demo["halls"][0])

    response = wechat_qr_svg(client, ticket)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["X-QR-Kind"] == "link"
    assert response["Cache-Control"] == "no-store"
    assert response.content == svg_of(ticket["url"])


def test_with_the_account_the_printed_qr_is_the_official_accounts_code(
    client: Client, demo: dict[str, Any], sandbox: Sandbox
) -> None:
    ticket = issue_ticket(client, demo["halls"][0])

    response = wechat_qr_svg(client, ticket)
    answer = client.get(f"/api/v1/tickets/{ticket['id']}/wechat-qr", {"token": ticket["token"]})

    assert response["X-QR-Kind"] == "wechat"
    assert answer.json()["kind"] == "wechat"
    assert answer.json()["url"].startswith(f"{sandbox.url}/q/")
    assert response.content == svg_of(answer.json()["url"])
    assert sandbox.stats()["qrcodes_created"] == 1


def test_while_wechat_fails_the_printed_qr_is_the_ticket_page(
    client: Client, demo: dict[str, Any], sandbox: Sandbox
) -> None:
    ticket = issue_ticket(client, demo["halls"][0])
    sandbox.post("/sandbox/fail", {"api": "qrcode", "errcode": 45009, "count": 1})

    response = wechat_qr_svg(client, ticket)

    assert response["X-QR-Kind"] == "link"
    assert response.content == svg_of(ticket["url"])
    assert wechat_qr_svg(client, ticket)["X-QR-Kind"] == "wechat"


@pytest.mark.parametrize("token", [None, "", "0" * 32])
def test_the_printed_qr_is_drawn_only_for_the_holder_of_the_tickets_token(
    client: Client, demo: dict[str, Any], token: str | None
) -> None:
    ticket = issue_ticket(client, demo["halls"][0])
    query = {} if token is None else {"token": token}

    assert client.get(f"/t/{ticket['id']}/wechat-qr.svg", query).status_code == 404


def test_a_tickets_token_draws_no_other_tickets_qr(client: Client, demo: dict[str, Any]) -> None:
    first = issue_ticket(client, demo["halls"][0])
    second = issue_ticket(client, demo["halls"][0])

    assert wechat_qr_svg(client, second, token=first["token"]).status_code == 404


def test_the_kiosk_says_what_the_qr_code_does(client: Client, demo: dict[str, Any]) -> None:
    messages = page_messages(html_of(client, f"/kiosk/{demo['halls'][0]['id']}/"))
    english = page_messages(html_of(client, f"/kiosk/{demo['halls'][0]['id']}/", "en"))

    assert messages["scan_wechat"] == "微信扫码，叫号前提醒您"
    assert messages["scan_link"] == "微信扫一扫，手机查看排队进度"
    assert english["scan_wechat"] == "Scan with WeChat to be reminded before your call"


# ----------------------------------------------------------------------- the ticket page


def ticket_page(client: Client, ticket: dict[str, Any], language: str | None = None) -> str:
    return html_of(client, f"/t/{ticket['id']}/?token={ticket['token']}", language)


def test_without_the_account_the_ticket_page_offers_only_the_pre_call_distance(
    client: Client, demo: dict[str, Any]
) -> None:
    ticket = issue_ticket(client, demo["halls"][0])

    html = ticket_page(client, ticket)

    assert BIND_LINK.search(html) is None
    assert BOUND.search(html) is None
    assert SELECTED.findall(html) == ["3"]  # the service's distance
    assert 'data-pre-call-distance="3"' in html
    assert re.findall(r'<option value="(\d+)"', html) == [str(n) for n in range(1, 21)]
    assert "前面还有几人时提醒我" in html


def test_the_ticket_pages_wechat_button_comes_back_to_the_page(
    client: Client, demo: dict[str, Any], sandbox: Sandbox
) -> None:
    ticket = issue_ticket(client, demo["halls"][0])

    link = BIND_LINK.search(ticket_page(client, ticket))
    assert link is not None
    assert link.group(2) is None  # shown
    assert BOUND.search(ticket_page(client, ticket)).group(1) == " hidden"  # type: ignore[union-attr]
    href = link.group(1).replace("&amp;", "&")
    assert urlsplit(href).path == "/wechat/oauth/start"
    assert parse_qs(urlsplit(href).query)["next"] == [f"/t/{ticket['id']}/?token={ticket['token']}"]

    authorize = client.get(href)
    assert authorize.status_code == 302
    redirect_uri = parse_qs(urlsplit(authorize["Location"]).query)["redirect_uri"][0]
    assert parse_qs(urlsplit(redirect_uri).query)["next"] == [
        f"/t/{ticket['id']}/?token={ticket['token']}"
    ]


def test_a_bound_ticket_shows_it_and_its_own_distance(
    client: Client, demo: dict[str, Any], sandbox: Sandbox
) -> None:
    ticket = issue_ticket(client, demo["halls"][0])
    query = f"?token={ticket['token']}"
    bound = client.post(
        f"/api/v1/tickets/{ticket['id']}/bind{query}",
        {"proof": openid_proof("o_demo_2")},
        content_type="application/json",
    )
    distance = client.put(
        f"/api/v1/tickets/{ticket['id']}/pre-call-distance{query}",
        {"distance": 7},
        content_type="application/json",
    )
    assert (bound.status_code, distance.status_code) == (200, 200)

    html = ticket_page(client, ticket)

    assert BOUND.search(html).group(1) is None  # type: ignore[union-attr]
    assert BIND_LINK.search(html).group(2) == " hidden"  # type: ignore[union-attr]
    assert "已绑定微信" in html
    assert SELECTED.findall(html) == ["7"]
    assert 'data-pre-call-distance="7"' in html
    assert Ticket.objects.get(pk=ticket["id"]).owner_openid == "o_demo_2"


def test_reminders_are_offered_while_the_ticket_is_in_the_queue(
    client: Client, demo: dict[str, Any], staff_token: str
) -> None:
    hall = demo["halls"][0]
    ticket = issue_ticket(client, hall)
    counter = Counter.objects.get(hall_id=hall["id"], number=1)
    staff = {"Authorization": f"Bearer {staff_token}"}

    def counter_does(action: str) -> None:
        response = client.post(f"/api/v1/counters/{counter.pk}/{action}", headers=staff)
        assert response.status_code == 200, response.content

    def shown(html: str) -> dict[str, bool]:
        return {
            name: re.search(rf'id="{name}"[^>]*? hidden>', html) is None
            for name in ("reminders", "pre-call")
        }

    waiting = ticket_page(client, ticket)
    counter_does("open")
    counter_does("call-next")
    called = ticket_page(client, ticket)
    counter_does("start")
    serving = ticket_page(client, ticket)

    assert shown(waiting) == {"reminders": True, "pre-call": True}
    assert shown(called) == {"reminders": True, "pre-call": False}
    assert shown(serving) == {"reminders": False, "pre-call": False}


def test_every_string_the_ticket_scripts_show_is_translated(
    client: Client, demo: dict[str, Any]
) -> None:
    ticket = issue_ticket(client, demo["halls"][0])
    keys: set[str] = set()
    for name in ("ticket.js", "ticket_reminders.js"):
        keys.update(TRANSLATED_KEY.findall((STATIC / name).read_text()))
    keys.discard("state_")  # H.t('state_' + state): every state is checked below
    keys.update(f"state_{state}" for state in ("waiting", "called", "serving", "done"))

    zh = page_messages(ticket_page(client, ticket))
    en = page_messages(ticket_page(client, ticket, "en"))

    assert sorted(keys - zh.keys()) == []
    assert sorted(key for key in keys if zh[key] == en[key]) == []
    assert zh["wechat_snapshot"] == "请在微信中打开本页面，以接收叫号提醒。"
    assert zh["pre_call_saved"] == "已保存：前面还有 %(count)s 人时提醒您。"


# ------------------------------------------------------------------------- signing in


def test_the_sign_in_page_offers_wechat_only_with_the_account(
    client: Client, demo: dict[str, Any], settings: Any
) -> None:
    settings.WECHAT_APP_ID = ""
    assert 'id="wechat-sign-in"' not in html_of(client, "/book/sign-in/?next=/me/")

    settings.WECHAT_APP_ID = "wx0123456789abcdef"
    settings.WECHAT_APP_SECRET = "secret"
    html = html_of(client, "/book/sign-in/?next=/me/")

    link = re.search(r'id="wechat-sign-in" href="([^"]+)"', html)
    assert link is not None
    assert link.group(1) == "/wechat/oauth/start?next=%2Fbook%2Fsign-in%2F%3Fnext%3D%2Fme%2F"
    assert "微信登录" in html


def test_every_string_of_the_wechat_sign_in_is_translated(
    client: Client, demo: dict[str, Any]
) -> None:
    zh = page_messages(html_of(client, "/book/sign-in/"))
    en = page_messages(html_of(client, "/book/sign-in/", "en"))

    assert zh["wechat_not_bound"] == (
        "首次使用微信登录：请先用手机号验证码登录一次，以后即可直接用微信登录。"
    )
    assert zh["wechat_snapshot"] == "请在微信中打开本页面，再使用微信登录。"
    assert en["wechat_signing_in"] == "Signing in with WeChat…"
