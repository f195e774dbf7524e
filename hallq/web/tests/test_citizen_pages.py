"""The citizen's booking pages, "my appointments", the booking QR code and the kiosk's check-in
screen render in both languages, carry every string their scripts show, and find their assets."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import segno
from django.conf import settings
from django.test import Client

from hallq.booking.services import appointment_book
from hallq.booking.tests.factories import make_citizen, make_slot
from hallq.common import clock
from hallq.halls.models import Service
from hallq.web.tests.test_pages import SCRIPT_OR_STYLE, asgi_statuses, page_messages

pytestmark = pytest.mark.django_db

STATIC = Path(settings.BASE_DIR) / "hallq" / "web" / "static" / "web"
TRANSLATED_KEY = re.compile(r"H\.t\('(\w+)'")


def service_of(hall: dict[str, Any], prefix: str) -> Service:
    return Service.objects.get(hall_id=hall["id"], prefix=prefix)


def booking_pages(demo: dict[str, Any]) -> dict[str, str]:
    hall = demo["halls"][0]
    service = service_of(hall, "C")
    return {
        "sign-in": "/book/sign-in/",
        "register": "/book/register/",
        "agreement": "/book/agreement/",
        "halls": "/book/",
        "services": f"/book/{hall['id']}/",
        "slots": f"/book/{hall['id']}/{service.pk}/",
        "confirm": f"/book/{hall['id']}/{service.pk}/confirm/?date=2026-12-01&slot=1",
    }


def html_of(client: Client, path: str, language: str | None = None) -> str:
    headers = {"Accept-Language": language} if language else {}
    response = client.get(path, headers=headers)
    assert response.status_code == 200, path
    return response.content.decode()


def test_every_booking_step_has_its_own_address(client: Client, demo: dict[str, Any]) -> None:
    hall = demo["halls"][0]
    service = service_of(hall, "C")

    for step, path in booking_pages(demo).items():
        html = html_of(client, path)

        assert f'data-step="{step}"' in html, path
        assert 'data-time-zone="Asia/Shanghai"' in html
        assert "/static/web/citizen.js" in html
        script = "book.js" if step in ("halls", "services", "slots", "confirm") else "account.js"
        assert f"/static/web/{script}" in html
    slots = html_of(client, f"/book/{hall['id']}/{service.pk}/")
    assert f'data-hall-id="{hall["id"]}"' in slots
    assert f'data-service-id="{service.pk}"' in slots
    assert "不动产登记" in slots
    assert service.guide in slots


@pytest.mark.parametrize(
    ("step", "chinese", "english"),
    [
        (
            "sign-in",
            ["手机号登录", "获取验证码", "短信验证码"],
            ["Sign in with your mobile number"],
        ),
        ("register", ["实名登记", "身份证号", "保存并继续"], ["Real-name registration"]),
        ("agreement", ["预约须知与协议", "同意并继续"], ["Booking notice and agreement"]),
        ("halls", ["选择办事大厅"], ["Choose a hall"]),
        ("services", ["选择办理业务", "东城区政务服务中心"], ["Choose a service"]),
        ("slots", ["选择日期和时段", "办事指南"], ["Choose a date and time", "Service guide"]),
        ("confirm", ["核对并确认", "确认预约", "预约人信息"], ["Confirm appointment"]),
    ],
)
def test_booking_steps_are_chinese_by_default_and_english_on_request(
    client: Client, demo: dict[str, Any], step: str, chinese: list[str], english: list[str]
) -> None:
    path = booking_pages(demo)[step]

    zh = html_of(client, path)
    en = html_of(client, path, "en")

    assert '<html lang="zh-hans">' in zh
    for text in chinese:
        assert text in zh, text
    assert page_messages(zh)["full"] == "已约满"
    assert '<html lang="en">' in en
    for text in english:
        assert text in en, text
    assert page_messages(en)["full"] == "Full"


def test_my_appointments_and_an_appointment_render_in_both_languages(
    client: Client, demo: dict[str, Any]
) -> None:
    mine_zh = html_of(client, "/me/")
    mine_en = html_of(client, "/me/", "en")
    one_zh = html_of(client, "/me/appointments/42/")
    one_en = html_of(client, "/me/appointments/42/", "en")

    assert "我的预约" in mine_zh
    assert "退出登录" in mine_zh
    assert 'data-page="appointments"' in mine_zh
    assert "My appointments" in mine_en
    assert "Sign out" in mine_en
    assert 'data-page="appointment"' in one_zh
    assert 'data-appointment-id="42"' in one_zh
    assert "预约码" in one_zh
    assert "Booking code" in one_en
    assert page_messages(one_zh)["appointment_state_cancelled"] == "已取消"
    assert page_messages(one_en)["appointment_state_cancelled"] == "Cancelled"


def test_an_appointment_page_holds_nothing_of_the_appointment(
    client: Client, demo: dict[str, Any]
) -> None:
    # Its script fetches the appointment with the owner's token; the page is an empty frame.
    now = clock.now()
    citizen = make_citizen(1, now=now)
    slot = make_slot(service_of(demo["halls"][0], "C"), now + timedelta(days=1), quota=2)
    appointment = appointment_book(citizen=citizen, slot=slot, channel="web", now=now)

    html = html_of(client, f"/me/appointments/{appointment.pk}/")

    assert f'data-appointment-id="{appointment.pk}"' in html
    for secret in [appointment.booking_code, citizen.name, citizen.mobile, citizen.id_number]:
        assert secret not in html


@pytest.mark.parametrize(
    "path", ["/book/999999/", "/book/{hall}/999999/", "/book/{hall}/999999/confirm/"]
)
def test_booking_steps_404_for_an_unknown_hall_or_service(
    client: Client, demo: dict[str, Any], path: str
) -> None:
    assert client.get(path.format(hall=demo["halls"][0]["id"])).status_code == 404


def test_a_service_is_only_found_in_its_own_hall(client: Client, demo: dict[str, Any]) -> None:
    first, second = demo["halls"][0], demo["halls"][1]
    service = service_of(second, "A")

    assert client.get(f"/book/{first['id']}/{service.pk}/").status_code == 404
    assert client.get(f"/book/{second['id']}/{service.pk}/").status_code == 200


def test_the_service_guide_is_shown_as_text(client: Client, demo: dict[str, Any]) -> None:
    hall = demo["halls"][0]
    service = service_of(hall, "A")
    service.guide = '<script>alert("x")</script>带身份证'
    service.save(update_fields=["guide"])

    html = html_of(client, f"/book/{hall['id']}/{service.pk}/")

    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;带身份证" in html
    assert '<script>alert("x")' not in html


def test_every_string_the_citizen_scripts_show_is_translated(
    client: Client, demo: dict[str, Any]
) -> None:
    keys: set[str] = set()
    for name in ("citizen.js", "account.js", "book.js", "me.js"):
        keys.update(TRANSLATED_KEY.findall((STATIC / name).read_text()))
    keys.update(
        f"appointment_state_{state}"
        for state in ("booked", "checked_in", "done", "cancelled", "no_show")
    )
    paths = [*booking_pages(demo).values(), "/me/", "/me/appointments/1/"]

    for path in paths:
        zh = page_messages(html_of(client, path))
        en = page_messages(html_of(client, path, "en"))

        assert sorted(keys - zh.keys()) == [], path
        untranslated = sorted(key for key in keys if zh[key] == en[key] and key != "time_range")
        assert untranslated == [], path


def test_every_string_the_kiosk_scripts_show_is_translated(
    client: Client, demo: dict[str, Any]
) -> None:
    keys: set[str] = set()
    for name in ("kiosk.js", "kiosk_check_in.js"):
        keys.update(TRANSLATED_KEY.findall((STATIC / name).read_text()))

    messages = page_messages(html_of(client, f"/kiosk/{demo['halls'][0]['id']}/"))

    assert sorted(keys - messages.keys()) == []
    assert messages["appointment_time"] == "预约时段"
    assert messages["appointment_service"] == "%(service)s · 预约"


def test_the_kiosk_offers_appointment_check_in(client: Client, demo: dict[str, Any]) -> None:
    hall_id = demo["halls"][0]["id"]

    zh = html_of(client, f"/kiosk/{hall_id}/")
    en = html_of(client, f"/kiosk/{hall_id}/", "en")

    assert 'id="check-in-open"' in zh
    assert "预约签到" in zh
    assert 'id="check-in-input"' in zh
    assert 'inputmode="none"' in zh  # the on-screen keypad, not the system keyboard
    keypad = re.findall(r'class="keypad-key[^"]*" data-key="([^"]+)"', zh)
    assert keypad == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "X", "0", "delete"]
    assert "/static/web/kiosk_check_in.js" in zh
    assert "Appointment check-in" in en


def test_the_start_page_links_to_booking_and_my_appointments(
    client: Client, demo: dict[str, Any]
) -> None:
    html = html_of(client, "/")

    assert 'href="/book/"' in html
    assert 'href="/me/"' in html
    assert "预约办事" in html
    assert "我的预约" in html


def test_the_booking_qr_is_a_standalone_svg_of_the_code_alone(client: Client) -> None:
    response = client.get("/qr/booking/0123456789.svg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Cache-Control"] == "private, max-age=86400"
    assert response.content.startswith(b'<svg xmlns="http://www.w3.org/2000/svg"')
    expected = segno.make_qr("0123456789", error="m")
    assert not expected.is_micro  # kiosk scanners read full QR codes
    svg = io.BytesIO()
    expected.save(svg, kind="svg", border=2, xmldecl=False, omitsize=True, light="#fff")
    assert response.content == svg.getvalue()


def test_the_booking_qr_needs_no_booking_and_takes_only_ten_digits(client: Client) -> None:
    # Drawn without a look-up, so it cannot tell whether a booking code exists.
    assert client.get("/qr/booking/9999999999.svg").status_code == 200
    for code in ["123456789", "12345678901", "12345abcde", "%2E%2E"]:
        assert client.get(f"/qr/booking/{code}.svg").status_code == 404, code


def test_citizen_pages_find_their_scripts_and_styles(client: Client, demo: dict[str, Any]) -> None:
    pages = [*booking_pages(demo).values(), "/me/", "/me/appointments/1/"]
    assets: set[str] = set()
    for page in pages:
        assets.update(SCRIPT_OR_STYLE.findall(html_of(client, page)))
    assets.update(SCRIPT_OR_STYLE.findall(html_of(client, f"/kiosk/{demo['halls'][0]['id']}/")))

    assert {
        "/static/web/citizen.js",
        "/static/web/account.js",
        "/static/web/book.js",
        "/static/web/me.js",
        "/static/web/kiosk_check_in.js",
    } <= assets
    assert asyncio.run(asgi_statuses(sorted(assets))) == dict.fromkeys(sorted(assets), 200)
