"""The citizen's pages and the kiosk's check-in in a real browser against a real server (§3, §7,
§11).

A citizen signs in with the SMS code the console backend prints in the server's log, registers,
accepts the agreement, chooses hall, service, day and slot, confirms, gets the booking code and
its QR code, finds it in "my appointments", is refused at the kiosk (the slot is not today) with
the API's words, and cancels, which frees the place at once. Today's appointments check in by
ID number and print their tickets like walk-in tickets. The places left update by themselves,
and a slot taken while confirming sends the citizen back to fresh counts.
Screenshots are saved in test-artifacts/ for review.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from hallq.booking.demo import load_booking_demo
from hallq.booking.services import appointment_book
from hallq.booking.tests.factories import make_citizen, make_slot
from hallq.citizens.services import citizen_token_issue
from hallq.common import clock
from hallq.conftest import Server, start_server, stop_server
from hallq.halls.models import Service
from hallq.web.tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Page

MOBILE = "13800138000"
ID_NUMBER = "110101199003074514"
NAME = "张三"
CODE_IN_LOG = re.compile(r"\[SMS to 138\*\*\*\*8000\] .*?验证码为 (\d{6})")
STEP_SECONDS = 10


@pytest.fixture
def booking_server(
    demo: dict[str, Any], transactional_db: None, tmp_path: Path
) -> Iterator[Server]:
    """The demo with its booking rules and slots, served with SMS printed to the server's log."""
    load_booking_demo(now=clock.now())
    server = start_server(
        tmp_path / "server.log", {"HALLQ_SMS_BACKEND": "hallq.common.sms.ConsoleBackend"}
    )
    try:
        yield server
    finally:
        stop_server(server)


def sign_in_code(log: Path) -> str:
    deadline = time.monotonic() + STEP_SECONDS
    while time.monotonic() < deadline:
        codes = CODE_IN_LOG.findall(log.read_text(encoding="utf-8", errors="replace"))
        if codes:
            return str(codes[-1])
        time.sleep(0.1)
    raise AssertionError(f"no sign-in code in the server's log:\n{log.read_text()}")


def first_open_day(base: str, hall_id: int, service_id: int) -> dict[str, Any]:
    """The first day the availability API offers with places left."""
    days = httpx.get(f"{base}/api/v1/halls/{hall_id}/availability", params={"days": 15}).json()
    return next(
        day
        for day in days
        if day["service_id"] == service_id and day["bookable"] and day["remaining"] > 0
    )


def places_left(base: str, hall_id: int, service_id: int, date: str, slot_id: int) -> int:
    day = httpx.get(
        f"{base}/api/v1/halls/{hall_id}/services/{service_id}/slots", params={"date": date}
    ).json()
    return int(next(slot["remaining"] for slot in day["slots"] if slot["id"] == slot_id))


@pytest.mark.browser
@pytest.mark.server
def test_a_citizen_books_is_refused_at_the_kiosk_before_the_day_and_cancels(
    demo: dict[str, Any], booking_server: Server
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    hall = demo["halls"][0]
    service = Service.objects.get(hall_id=hall["id"], prefix="C")
    base = booking_server.url
    day = first_open_day(base, hall["id"], service.pk)
    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=STEP_SECONDS * 1000)
    script_errors: list[str] = []

    def watch(page: Page) -> None:
        page.on("pageerror", lambda error: script_errors.append(f"{page.url}: {error}"))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            phone_context = browser.new_context(
                viewport={"width": 375, "height": 667},
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
                locale="zh-CN",
            )
            phone_context.on("page", watch)
            phone = phone_context.new_page()

            # Sign in: the start of booking sends a stranger to the sign-in step first.
            phone.goto(f"{base}/book/")
            expect(phone).to_have_url(f"{base}/book/sign-in/?next=%2Fbook%2F")
            phone.fill("#mobile", MOBILE)
            phone.get_by_role("button", name="获取验证码").click()
            expect(phone.locator("#notice")).to_have_text(
                f"验证码已发送至 {MOBILE}，5 分钟内有效。"
            )
            phone.fill("#code", sign_in_code(booking_server.log))
            phone.screenshot(path=ARTIFACTS / "book-1-sign-in.png")
            phone.get_by_role("button", name="登录").click()

            # First time: real-name registration, then the agreement.
            expect(phone).to_have_url(f"{base}/book/register/?next=%2Fbook%2F")
            expect(phone.locator("#mobile-masked")).to_have_text("138****8000")
            phone.fill("#name", NAME)
            phone.fill("#id-number", ID_NUMBER)
            phone.screenshot(path=ARTIFACTS / "book-2-register.png")
            phone.get_by_role("button", name="保存并继续").click()
            expect(phone).to_have_url(f"{base}/book/agreement/?next=%2Fbook%2F")
            expect(phone.locator("#agreement-name")).to_have_text("网上预约服务协议")
            accept = phone.get_by_role("button", name="同意并继续")
            expect(accept).to_be_disabled()
            phone.get_by_label("我已阅读预约须知并同意协议").check()
            phone.screenshot(path=ARTIFACTS / "book-3-agreement.png")
            accept.click()

            # Hall by district, service with its guide, day and slot.
            expect(phone).to_have_url(f"{base}/book/")
            expect(phone.locator(".district h2").first).to_have_text("东城区")
            phone.screenshot(path=ARTIFACTS / "book-4-halls.png", full_page=True)
            phone.get_by_role("link", name=re.compile(hall["name"])).click()
            expect(phone).to_have_url(f"{base}/book/{hall['id']}/")
            choice = phone.locator(f'.service-choice[data-service-id="{service.pk}"]')
            choice.get_by_text("办事指南").click()
            expect(choice.locator(".guide-text")).to_have_text(service.guide)
            phone.screenshot(path=ARTIFACTS / "book-5-services.png", full_page=True)
            choice.get_by_role("link", name="预约").click()
            expect(phone).to_have_url(re.compile(rf"/book/{hall['id']}/{service.pk}/\?date="))
            day_button = phone.locator(f'.day[data-date="{day["date"]}"]')
            day_button.click()
            expect(day_button).to_have_attribute("aria-pressed", "true")
            expect(phone).to_have_url(f"{base}/book/{hall['id']}/{service.pk}/?date={day['date']}")
            slot_button = phone.locator(".slot:enabled").first
            expect(slot_button).to_contain_text(re.compile(r"余 \d+"))
            expect(phone.locator("#live")).to_have_attribute("data-state", "open")
            phone.screenshot(path=ARTIFACTS / "book-6-slots.png", full_page=True)
            slot_id = int(slot_button.get_attribute("data-slot-id") or 0)
            before = places_left(base, hall["id"], service.pk, day["date"], slot_id)
            slot_button.click()

            # Confirm: the citizen's details, masked; then the booking code and its QR code.
            expect(phone).to_have_url(
                f"{base}/book/{hall['id']}/{service.pk}/confirm/?date={day['date']}&slot={slot_id}"
            )
            expect(phone.locator("#person-id")).to_have_text("110101********4514")
            expect(phone.locator("#person-mobile")).to_have_text("138****8000")
            confirm = phone.get_by_role("button", name="确认预约")
            expect(confirm).to_be_enabled()
            phone.screenshot(path=ARTIFACTS / "book-7-confirm.png", full_page=True)
            with phone.expect_request("**/api/v1/appointments") as booking_request:
                confirm.click()
            assert re.fullmatch(r"[0-9a-f]{32}", booking_request.value.headers["idempotency-key"])
            expect(phone).to_have_url(re.compile(r"/me/appointments/\d+/\?booked=1$"))
            expect(phone.locator("#booked")).to_have_text("预约成功")
            code_element = phone.locator("#booking-code")
            expect(code_element).to_have_attribute("data-code", re.compile(r"^\d{10}$"))
            booking_code = code_element.get_attribute("data-code") or ""
            grouped = f"{booking_code[:4]} {booking_code[4:8]} {booking_code[8:]}"
            expect(code_element).to_have_text(grouped)
            expect(phone.locator("#booking-qr")).to_have_attribute(
                "src", f"/qr/booking/{booking_code}.svg"
            )
            expect(phone.locator("#booking-qr")).to_have_js_property("complete", True)
            assert phone.locator("#booking-qr").evaluate("image => image.naturalWidth") > 0
            expect(phone.locator("#state")).to_have_text("已预约")
            phone.screenshot(path=ARTIFACTS / "book-8-result.png", full_page=True)
            assert places_left(base, hall["id"], service.pk, day["date"], slot_id) == before - 1

            # My appointments lists it.
            phone.goto(f"{base}/me/")
            card = phone.locator(".appointment").filter(has_text=grouped)
            expect(card).to_have_attribute("data-state", "booked")
            expect(card).to_contain_text(service.name)
            expect(card).to_contain_text(hall["name"])
            expect(phone.locator("#profile-id")).to_have_text("110101********4514")
            phone.screenshot(path=ARTIFACTS / "book-9-mine.png", full_page=True)

            # The kiosk: the booking code on the keypad, then by the scanner; both refused
            # because the appointment is not today, with the API's own words.
            kiosk_screen = browser.new_context(
                viewport={"width": 1080, "height": 1920}, locale="zh-CN"
            )
            kiosk_screen.add_init_script(
                "window.print = () => { window.printed = (window.printed || 0) + 1; };"
            )
            kiosk_screen.on("page", watch)
            kiosk = kiosk_screen.new_page()
            kiosk.goto(f"{base}/kiosk/{hall['id']}/#token={hall['kiosk_token']}")
            kiosk.get_by_role("button", name=re.compile("预约签到")).click()
            expect(kiosk.locator("#check-in")).to_be_visible()
            expect(kiosk.locator("#check-in-input")).to_be_focused()
            for digit in booking_code:
                kiosk.locator(f'.keypad-key[data-key="{digit}"]').click()
            expect(kiosk.locator("#check-in-input")).to_have_value(booking_code)
            kiosk.screenshot(path=ARTIFACTS / "book-10-kiosk-check-in.png")
            with kiosk.expect_response("**/check-in") as keyed:
                kiosk.get_by_role("button", name="签到", exact=True).click()
            assert keyed.value.status == 409
            refusal = keyed.value.json()
            assert refusal["code"] == "other_day"
            expect(kiosk.locator("#kiosk-error")).to_be_visible()
            expect(kiosk.locator("#kiosk-error-text")).to_have_text(refusal["message"])
            expect(kiosk.locator("#kiosk-error-countdown")).to_contain_text("秒后返回")
            kiosk.screenshot(path=ARTIFACTS / "book-11-kiosk-refused.png")
            kiosk.get_by_role("button", name="返回").click()
            expect(kiosk.locator("#kiosk-error")).to_be_hidden()

            with kiosk.expect_response("**/check-in") as scanned:
                kiosk.keyboard.type(booking_code + "\n")
            assert scanned.value.request.post_data_json == {"booking_code": booking_code}
            expect(kiosk.locator("#kiosk-error-text")).to_have_text(refusal["message"])
            # …and back to the start by itself.
            expect(kiosk.locator("#kiosk-error")).to_be_hidden(timeout=12_000)
            expect(kiosk.locator("#check-in-input")).to_have_value("")
            assert kiosk.evaluate("window.printed || 0") == 0

            # Cancel from my appointments: asked first, then the place is free at once.
            card.get_by_role("button", name="取消预约").click()
            expect(
                card.get_by_text("确定取消这个预约吗？名额将立即释放给其他群众。")
            ).to_be_visible()
            phone.screenshot(path=ARTIFACTS / "book-12-cancel.png", full_page=True)
            card.get_by_role("button", name="确定取消").click()
            cancelled = phone.locator(".appointment").filter(has_text=grouped)
            expect(cancelled).to_have_attribute("data-state", "cancelled")
            expect(cancelled.locator(".pill")).to_have_text("已取消")
            expect(phone.locator("#notice")).to_have_text("预约已取消，名额已释放给其他群众。")
            phone.screenshot(path=ARTIFACTS / "book-13-cancelled.png", full_page=True)
            assert places_left(base, hall["id"], service.pk, day["date"], slot_id) == before
        finally:
            browser.close()
    assert script_errors == []


@pytest.mark.browser
@pytest.mark.server
def test_the_kiosk_checks_in_todays_appointments_by_id_number_and_prints_their_tickets(
    demo: dict[str, Any], booking_server: Server
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    hall = demo["halls"][0]
    now = clock.now()
    # Index 7 gives an ID number ending in X: the keypad has that key.
    citizen = make_citizen(7, now=now)
    assert citizen.id_number.endswith("X")
    soon = now + timedelta(minutes=5)
    zone = Service.objects.get(hall_id=hall["id"], prefix="A").hall.zone
    if soon.astimezone(zone).date() != now.astimezone(zone).date():
        soon = now - timedelta(minutes=5)  # just before midnight: a slot that has begun
    for prefix in ("A", "C"):
        service = Service.objects.select_related("hall").get(hall_id=hall["id"], prefix=prefix)
        appointment_book(
            citizen=citizen, slot=make_slot(service, soon, quota=1), channel="web", now=now
        )
    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=STEP_SECONDS * 1000)
    script_errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            kiosk_screen = browser.new_context(
                viewport={"width": 1080, "height": 1920}, locale="zh-CN"
            )
            kiosk_screen.add_init_script(
                "window.print = () => {"
                " window.printed = (window.printed || []).concat("
                "  document.querySelector('#ticket-number').textContent); };"
            )
            kiosk = kiosk_screen.new_page()
            kiosk.on("pageerror", lambda error: script_errors.append(str(error)))
            kiosk.goto(f"{booking_server.url}/kiosk/{hall['id']}/#token={hall['kiosk_token']}")
            kiosk.get_by_role("button", name=re.compile("预约签到")).click()
            for character in citizen.id_number:
                kiosk.locator(f'.keypad-key[data-key="{character}"]').click()
            kiosk.locator('.keypad-key[data-key="delete"]').click()
            kiosk.locator('.keypad-key[data-key="X"]').click()
            expect(kiosk.locator("#check-in-input")).to_have_value(citizen.id_number)
            with kiosk.expect_response("**/check-in") as answer:
                kiosk.get_by_role("button", name="签到", exact=True).click()

            assert answer.value.status == 200
            assert answer.value.request.post_data_json == {"id_number": citizen.id_number}
            tickets = answer.value.json()["tickets"]
            assert sorted(t["number"][0] for t in tickets) == ["A", "C"]
            # Each ticket is shown and printed in turn, like a walk-in ticket.
            kiosk.wait_for_function("(window.printed || []).length === 2")
            assert kiosk.evaluate("window.printed") == [t["number"] for t in tickets]
            card = kiosk.locator("#ticket-card")
            expect(card).to_have_attribute("data-kind", "appointment")
            expect(card.locator("[data-field=time-label]")).to_have_text("预约时段")
            expect(card.locator("[data-field=service]")).to_have_text(
                f"{tickets[-1]['service_name']} · 预约"
            )
            expect(card.locator("img[data-field=qr]")).to_have_js_property("complete", True)
            expect(kiosk.locator("#countdown")).to_contain_text("秒后返回")
            expect(kiosk.locator("#check-in-input")).to_have_value("")
            card.screenshot(path=ARTIFACTS / "book-14-kiosk-appointment-ticket.png")
        finally:
            browser.close()
    assert script_errors == []


@pytest.mark.browser
@pytest.mark.server
def test_places_left_update_live_and_a_slot_taken_while_confirming_sends_the_citizen_back(
    demo: dict[str, Any], booking_server: Server
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    hall = demo["halls"][0]
    service = Service.objects.get(hall_id=hall["id"], prefix="C")
    base = booking_server.url
    now = clock.now()
    citizen = make_citizen(11, now=now)
    token = citizen_token_issue(citizen=citizen, now=now)
    day = first_open_day(base, hall["id"], service.pk)
    slot = next(s for s in day["slots"] if s["remaining"] > 1)
    slots_path = f"/book/{hall['id']}/{service.pk}/?date={day['date']}"
    confirm_path = f"/book/{hall['id']}/{service.pk}/confirm/?date={day['date']}&slot={slot['id']}"
    others = [
        citizen_token_issue(citizen=make_citizen(100 + index, now=now), now=now)
        for index in range(slot["remaining"] + 1)
    ]
    expect.set_options(timeout=STEP_SECONDS * 1000)
    script_errors: list[str] = []

    def book_as(other: str) -> httpx.Response:
        return httpx.post(
            f"{base}/api/v1/appointments",
            json={"slot_id": slot["id"]},
            headers={"Authorization": f"Bearer {other}", "Accept-Language": "zh-hans"},
        )

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            phone_context = browser.new_context(
                viewport={"width": 375, "height": 667}, is_mobile=True, locale="zh-CN"
            )
            phone_context.add_init_script(
                f"localStorage.setItem('hallq.citizen.token', {json.dumps(token)});"
            )
            phone = phone_context.new_page()
            phone.on("pageerror", lambda error: script_errors.append(str(error)))
            phone.goto(base + slots_path)  # a deep link to the day
            button = phone.locator(f'.slot[data-slot-id="{slot["id"]}"]')
            expect(button.locator(".slot-remaining")).to_have_text(f"余 {slot['remaining']}")

            # Someone else books a place: the page shows it by itself within seconds.
            assert book_as(others[0]).status_code == 201
            expect(button.locator(".slot-remaining")).to_have_text(f"余 {slot['remaining'] - 1}")
            button.click()
            expect(phone).to_have_url(base + confirm_path)
            confirm = phone.get_by_role("button", name="确认预约")
            expect(confirm).to_be_enabled()
            expect(phone.locator("#confirm-remaining")).to_have_text(f"余 {slot['remaining'] - 1}")

            # Others take every place left meanwhile; one more is told it is full.
            answers = [book_as(other) for other in others[1:]]
            assert [a.status_code for a in answers] == [201] * (slot["remaining"] - 1) + [409]
            full = answers[-1].json()
            assert full["code"] == "slot_full"
            with phone.expect_response("**/api/v1/appointments") as answer:
                confirm.click()

            assert answer.value.status == 409
            expect(phone).to_have_url(f"{base}/book/{hall['id']}/{service.pk}/?date={day['date']}")
            expect(phone.locator("#alert")).to_have_text(full["message"])
            lost = phone.locator(f'.slot[data-slot-id="{slot["id"]}"]')
            expect(lost).to_be_disabled()
            expect(lost.locator(".slot-remaining")).to_have_text("已约满")
            # The answer was final: a new confirmation gets a new idempotency key.
            assert phone.evaluate(f"sessionStorage.getItem('hallq.book.key.{slot['id']}')") is None
        finally:
            browser.close()
    assert script_errors == []
