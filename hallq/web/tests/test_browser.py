"""The pages working together in a real browser against a real server (§4, §7, §11).

A kiosk issues a ticket, a phone follows it, a counter calls it, and the display board shows
and speaks the call. Screenshots of each page are saved in test-artifacts/ for review.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from hallq.conftest import Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # What the halls' kiosk and display machines run with: no click needed before sound.
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
CALL_SECONDS = 10
# Recorded segments play one after another: a call takes several seconds to speak.
ANNOUNCE_SECONDS = 30


def require_chromium() -> None:
    if not CHROMIUM.exists() and not os.environ.get("HALLQ_REQUIRE_BROWSER"):
        pytest.skip(f"{CHROMIUM} is not installed (set HALLQ_REQUIRE_BROWSER=1 to fail instead)")


@pytest.mark.browser
@pytest.mark.server
def test_a_kiosk_ticket_is_called_at_a_counter_shown_spoken_and_followed_on_a_phone(
    demo: dict[str, Any], asgi_server: Server
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    hall = demo["halls"][0]
    staff = hall["staff"][0]
    base = asgi_server.url
    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=CALL_SECONDS * 1000)

    script_errors: list[str] = []

    def watch(page: Page) -> None:
        page.on("pageerror", lambda error: script_errors.append(f"{page.url}: {error}"))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            wall = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
            wall.on("page", watch)
            display = wall.new_page()
            display.goto(f"{base}/display/{hall['id']}/#token={hall['display_token']}")
            expect(display.locator("#live")).to_have_attribute("data-state", "open")
            display.evaluate(
                "window.announcedEvents = [];"
                "addEventListener('hallq:announced', (e) => announcedEvents.push(e.detail));"
            )

            kiosk_screen = browser.new_context(
                viewport={"width": 1080, "height": 1920}, locale="zh-CN"
            )
            kiosk_screen.add_init_script(
                "window.print = () => { window.printed = (window.printed || 0) + 1; };"
            )
            kiosk_screen.on("page", watch)
            kiosk = kiosk_screen.new_page()
            kiosk.goto(f"{base}/kiosk/{hall['id']}/#token={hall['kiosk_token']}")
            assert "#token" not in kiosk.url  # the device token left the address bar
            kiosk.get_by_role("button", name=re.compile("综合业务")).click()
            card = kiosk.locator("#ticket-card")
            expect(kiosk.locator("#ticket-overlay")).to_be_visible()
            expect(card.locator("#ticket-number")).to_have_text(re.compile(r"^A\d{3}$"))
            expect(card.locator("img[data-field=qr]")).to_have_js_property("complete", True)
            number = card.locator("#ticket-number").inner_text()
            ticket_url = card.get_attribute("data-ticket-url")
            assert ticket_url is not None
            assert ticket_url.startswith(f"{base}/t/")
            kiosk.wait_for_function("window.printed === 1")
            card.screenshot(path=ARTIFACTS / "kiosk-ticket.png")

            phone_context = browser.new_context(
                viewport={"width": 375, "height": 667},
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
                locale="zh-CN",
            )
            phone_context.on("page", watch)
            phone = phone_context.new_page()
            phone.goto(ticket_url)
            expect(phone.locator("body")).to_have_attribute("data-state", "waiting")
            expect(phone.locator("#number")).to_have_text(number)

            desk = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            desk.on("page", watch)
            counter = desk.new_page()
            counter.goto(f"{base}/counter/")
            counter.fill("#username", staff["username"])
            counter.fill("#password", staff["password"])
            counter.locator("#signin-form button[type=submit]").click()
            counter.locator('[data-counter-number="1"]').click()
            expect(counter.locator("#work-view")).to_be_visible()
            expect(counter.locator("#waiting tr").first).to_contain_text(number)
            counter.locator('[data-action="call-next"]').click()
            expect(counter.locator("#current-number")).to_have_text(number)

            now = display.locator("#now")
            expect(now).to_have_attribute("data-number", number)
            expect(now).to_have_attribute("data-counter", "1")
            expect(display.locator("#now-counter")).to_have_text("1号窗口")
            expect(display.locator("#recent li.latest")).to_contain_text(number)

            expect(phone.locator("body")).to_have_attribute("data-state", "called")
            expect(phone.locator("#banner")).to_contain_text("请到 1 号窗口办理")

            display.wait_for_function(
                "(number) => announcedEvents.some((d) => d.number === number && d.counter === '1')",
                arg=number,
                timeout=ANNOUNCE_SECONDS * 1000,
            )
            spoken = display.evaluate("window.hallqDisplay.announced")
            assert spoken == [{"number": number, "counter": "1", "recall": False}]

            # A board that starts (or restarts) after the call shows it but does not speak it.
            late = wall.new_page()
            late.goto(f"{base}/display/{hall['id']}/")
            expect(late.locator("#now")).to_have_attribute("data-number", number)
            assert late.evaluate("window.hallqDisplay.announced") == []

            counter.screenshot(path=ARTIFACTS / "counter.png", full_page=True)
            display.screenshot(path=ARTIFACTS / "display.png")
            phone.screenshot(path=ARTIFACTS / "ticket.png")
        finally:
            browser.close()
    assert script_errors == []
