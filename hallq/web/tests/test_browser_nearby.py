"""The official account's menu targets in a real browser (§7).

Halls near me: the phone's GPS position (WGS-84) is converted to the halls' GCJ-02 before
measuring, the nearest hall comes first, and its navigation link carries its coordinates; without
the position the halls are listed by name. My ticket: one ticket in the queue opens at once."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from hallq.booking.tests.factories import make_citizen
from hallq.citizens.services import citizen_token_issue
from hallq.common import clock
from hallq.halls.models import Hall
from hallq.queueing.models import Channel, Ticket
from hallq.queueing.services import ticket_issue
from hallq.web.tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Geolocation

    from hallq.conftest import Server

STEP_SECONDS = 10


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """The reference the page's script is checked against: the standard formula (prcoords'
    wgs_gcj), with a degree of latitude a(1 − e²)/(1 − e² sin² φ)^1.5 long."""
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lng - 105, lat - 35
    waves_x = 2 * math.sin(x * 6 * math.pi) + 2 * math.sin(x * 2 * math.pi)
    d_lat = (
        -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
        + (waves_x + 2 * math.sin(y * math.pi) + 4 * math.sin(y / 3 * math.pi)
           + 16 * math.sin(y / 12 * math.pi) + 32 * math.sin(y / 30 * math.pi)) * 20 / 3
    )  # fmt: skip
    d_lng = (
        300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
        + (waves_x + 2 * math.sin(x * math.pi) + 4 * math.sin(x / 3 * math.pi)
           + 15 * math.sin(x / 12 * math.pi) + 30 * math.sin(x / 30 * math.pi)) * 20 / 3
    )  # fmt: skip
    magic = 1 - ee * math.sin(math.radians(lat)) ** 2
    lat_degree = math.radians(a * (1 - ee) / magic**1.5)
    lng_degree = math.radians(a * math.cos(math.radians(lat)) / math.sqrt(magic))
    return lat + d_lat / lat_degree, lng + d_lng / lng_degree


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """Where a GPS receiver stands when a GCJ-02 map shows it at (lat, lng)."""
    wgs_lat, wgs_lng = lat, lng
    for _ in range(10):
        gcj_lat, gcj_lng = wgs84_to_gcj02(wgs_lat, wgs_lng)
        wgs_lat, wgs_lng = wgs_lat - (gcj_lat - lat), wgs_lng - (gcj_lng - lng)
    return wgs_lat, wgs_lng


def phone(browser: Browser, locale: str, geolocation: Geolocation | None = None) -> BrowserContext:
    return browser.new_context(
        viewport={"width": 375, "height": 667},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=locale,
        geolocation=geolocation,
        permissions=["geolocation"] if geolocation else [],
    )


@pytest.mark.browser
@pytest.mark.server
def test_the_nearest_hall_comes_first_measured_in_gcj02_with_its_navigation_link(
    demo: dict[str, Any], asgi_server: Server
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    first, second, third = (Hall.objects.get(pk=hall["id"]) for hall in demo["halls"])
    assert second.latitude is not None
    assert second.longitude is not None
    # Standing at the door of demo hall 2, as the phone's GPS reports it.
    latitude, longitude = gcj02_to_wgs84(float(second.latitude), float(second.longitude))
    expect.set_options(timeout=STEP_SECONDS * 1000)
    ARTIFACTS.mkdir(exist_ok=True)
    script_errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            position: Geolocation = {"latitude": latitude, "longitude": longitude, "accuracy": 10}
            located = phone(browser, "zh-CN", position)
            page = located.new_page()
            page.on("pageerror", lambda error: script_errors.append(str(error)))
            page.goto(f"{asgi_server.url}/halls/nearby/")
            halls = page.locator("#halls")
            expect(halls).to_have_attribute("data-sorted-by", "distance")

            for point in [(latitude, longitude), (31.2304, 121.4737), (22.5431, 114.0579)]:
                converted = page.evaluate(
                    "([lat, lng]) => HallsNearby.wgs84ToGcj02(lat, lng)", list(point)
                )
                expected = wgs84_to_gcj02(*point)
                assert abs(converted["lat"] - expected[0]) < 1e-9
                assert abs(converted["lng"] - expected[1]) < 1e-9
            # Outside China GCJ-02 is WGS-84.
            assert page.evaluate("HallsNearby.wgs84ToGcj02(48.8566, 2.3522)") == {
                "lat": 48.8566,
                "lng": 2.3522,
            }

            items = halls.locator("li[data-hall-id]")
            assert items.evaluate_all("(items) => items.map((i) => Number(i.dataset.hallId))") == [
                second.pk,
                third.pk,
                first.pk,
            ]
            nearest = items.first
            # Unconverted, the GPS position would be some 500 m from the hall.
            assert nearest.get_attribute("data-distance") == "0"
            expect(nearest.locator("[data-field=distance]")).to_have_text("0 米")
            expect(page.locator("#location-status")).to_have_text("按距离由近到远排列。")
            amap = (
                f"https://uri.amap.com/marker?position={second.longitude.normalize()},"
                f"{second.latitude.normalize()}&name={quote(second.name)}"
                "&src=hallq&coordinate=gaode&callnative=1"
            )
            navigate = nearest.locator("[data-map=amap]")
            expect(navigate).to_have_text("导航")
            expect(navigate).to_have_attribute("href", amap)
            nearest.locator(".map-menu summary").click()
            expect(nearest.locator("[data-map=tencent]")).to_have_attribute(
                "href",
                f"https://apis.map.qq.com/uri/v1/marker?marker=coord:{second.latitude.normalize()},"
                f"{second.longitude.normalize()};title:{quote(second.name)};"
                f"addr:{quote(second.address)}&referer=hallq",
            )
            expect(nearest.locator("[data-map=baidu]")).to_have_text("百度地图")
            expect(nearest.locator("[data-field=busy]")).to_be_visible()
            expect(nearest.locator("[data-field=busy]")).to_have_text("空闲，无需预约")
            page.screenshot(path=ARTIFACTS / "halls-nearby.png", full_page=True)

            refused = phone(browser, "en-GB")
            page = refused.new_page()
            page.on("pageerror", lambda error: script_errors.append(str(error)))
            page.goto(f"{asgi_server.url}/halls/nearby/")
            halls = page.locator("#halls")
            expect(halls).to_have_attribute("data-sorted-by", "name")
            expect(page.locator("#location-status")).to_contain_text("listed by name")
            names = halls.locator("li[data-hall-id] h2").all_inner_texts()
            assert sorted(names) == sorted([first.name, second.name, third.name])
            assert halls.locator("[data-field=distance]").count() == 0
        finally:
            browser.close()
    assert script_errors == []


@pytest.mark.browser
@pytest.mark.server
def test_my_ticket_opens_the_one_ticket_in_the_queue_or_says_there_is_none(
    demo: dict[str, Any], asgi_server: Server
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    now = clock.now()
    with_ticket, without = make_citizen(1, now=now), make_citizen(2, now=now)
    hall = Hall.objects.get(pk=demo["halls"][0]["id"])
    ticket = ticket_issue(
        hall=hall, service=hall.services.get(prefix="A"), channel=Channel.KIOSK, now=now
    )
    Ticket.objects.filter(pk=ticket.pk).update(owner_citizen_id=with_ticket.pk)
    tokens = {c.pk: citizen_token_issue(citizen=c, now=now) for c in (with_ticket, without)}
    expect.set_options(timeout=STEP_SECONDS * 1000)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for citizen, language in [(with_ticket, "zh-CN"), (without, "en-GB"), (None, "zh-CN")]:
                context = phone(browser, language)
                if citizen is not None:
                    context.add_init_script(
                        f"localStorage.setItem('hallq.citizen.token', '{tokens[citizen.pk]}')"
                    )
                page = context.new_page()
                page.goto(f"{asgi_server.url}/me/ticket/")
                if citizen is with_ticket:
                    expect(page).to_have_url(re.compile(rf"/t/{ticket.pk}/\?token="))
                elif citizen is without:
                    expect(page.locator("#no-ticket")).to_be_visible()
                    expect(page.locator("#no-ticket")).to_contain_text("no ticket in the queue")
                else:
                    expect(page).to_have_url(
                        f"{asgi_server.url}/book/sign-in/?next=%2Fme%2Fticket%2F"
                    )
                context.close()
        finally:
            browser.close()
