"""The official account through the pages, in a real browser, against real processes (§5, §6).

hallq is served with its worker (the queue pushes and the notification delivery) and talks to
the stand-in for WeChat's servers (``manage.py wechat_sandbox``), which sends WeChat's signed
events to hallq's callback and shows what each demo user received on its "phone" pages.

A kiosk prints the official account's QR code; "scanning" it on the stand-in binds the ticket,
and the counter's call reaches the phone naming the counter. On the ticket page, the WeChat
button goes through the stand-in's OAuth page and binds the ticket. On the sign-in page, a
WeChat account signs in by SMS once, which binds it, and by WeChat alone afterwards.
Screenshots of each step are saved in test-artifacts/ for review.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.conf import settings
from django.db import connection

from hallq.booking.tests.factories import make_citizen
from hallq.citizens.models import CitizenWechat
from hallq.common import clock
from hallq.conftest import (
    Server,
    database_url,
    free_port,
    start_server,
    stop_server,
    wait_until_answering,
)
from hallq.halls.models import Counter
from hallq.queueing.models import Ticket
from hallq.web.tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium
from hallq.web.tests.test_wechat_pages import svg_of
from hallq.wechat.management.commands.wechat_sandbox import (
    DEMO_APP_ID,
    DEMO_APP_SECRET,
    DEMO_TOKEN,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

STEP_SECONDS = 10
# A call message should reach the phone while the citizen can still hear the hall's speakers.
CALL_MESSAGE_SECONDS = 5
T = TypeVar("T")
SMS_CODE = re.compile(r"\[SMS to 138\*\*\*\*0001\] .*?验证码为 (\d{6})")


@dataclass
class OfficialAccount:
    """hallq and the stand-in for WeChat, pointed at each other."""

    hallq: Server
    wechat: Server

    def messages(self, openid: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.wechat.url}/sandbox/messages", params={"openid": openid})
        return list(answer.json()["messages"])

    def template_ids(self, openid: str) -> list[str]:
        return [message["template_id"] for message in self.messages(openid)]


def start_stand_in(port: int, callback_url: str, env: dict[str, str], log: Path) -> Server:
    handle = log.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "wechat_sandbox",
            "--port",
            str(port),
            "--callback-url",
            callback_url,
        ],
        env={**os.environ, "DATABASE_URL": database_url(), **env},
        cwd=settings.BASE_DIR,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_answering(process, f"{url}/sandbox/stats", log, "the stand-in")
    return Server(url=url, process=process, log=log)


@pytest.fixture
def official_account(
    demo: dict[str, Any], transactional_db: None, tmp_path: Path
) -> Iterator[OfficialAccount]:
    stand_in_url = f"http://127.0.0.1:{free_port()}"
    account = {
        "HALLQ_WECHAT_APP_ID": DEMO_APP_ID,
        "HALLQ_WECHAT_APP_SECRET": DEMO_APP_SECRET,
        "HALLQ_WECHAT_TOKEN": DEMO_TOKEN,
        "HALLQ_WECHAT_AES_KEY": "",
        "HALLQ_WECHAT_API_BASE": stand_in_url,
        "HALLQ_WECHAT_OAUTH_BASE": stand_in_url,
        "HALLQ_LOG_LEVEL": "warning",
    }
    hallq = start_server(
        tmp_path / "server.log",
        {
            **account,
            "HALLQ_INPROCESS_WORKER": "1",
            "HALLQ_SMS_BACKEND": "hallq.common.sms.ConsoleBackend",
        },
    )
    try:
        port = int(stand_in_url.rsplit(":", 1)[1])
        wechat = start_stand_in(
            port, f"{hallq.url}/wechat/callback", account, tmp_path / "wechat.log"
        )
        try:
            yield OfficialAccount(hallq=hallq, wechat=wechat)
        finally:
            stop_server(wechat)
    finally:
        stop_server(hallq)


def from_database(query: Callable[[], T]) -> T:
    """Run an ORM query inside Playwright's block, whose event loop forbids them in this
    thread."""

    def run() -> T:
        try:
            return query()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def wait_for(condition: Callable[[], bool], seconds: float = STEP_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def owner_of(ticket_id: int) -> str:
    return from_database(lambda: Ticket.objects.get(pk=ticket_id).owner_openid)


def phone_context(browser: Browser) -> BrowserContext:
    return browser.new_context(
        viewport={"width": 375, "height": 667},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )


@pytest.mark.browser
@pytest.mark.server
def test_a_kiosk_tickets_qr_scanned_in_wechat_brings_the_call_to_the_phone(
    demo: dict[str, Any], official_account: OfficialAccount, staff_token: str
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    hall = demo["halls"][0]
    base = official_account.hallq.url
    wechat = official_account.wechat.url
    counter = Counter.objects.get(hall_id=hall["id"], number=1)
    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=STEP_SECONDS * 1000)
    script_errors: list[str] = []

    def watch(page: Page) -> None:
        page.on("pageerror", lambda error: script_errors.append(f"{page.url}: {error}"))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            kiosk_screen = browser.new_context(
                viewport={"width": 1080, "height": 1920}, locale="zh-CN"
            )
            kiosk_screen.add_init_script(
                "window.print = () => { window.printed = (window.printed || 0) + 1; };"
            )
            kiosk_screen.on("page", watch)
            kiosk = kiosk_screen.new_page()
            kiosk.goto(f"{base}/kiosk/{hall['id']}/#token={hall['kiosk_token']}")
            kiosk.get_by_role("button", name=re.compile("综合业务")).click()
            card = kiosk.locator("#ticket-card")
            expect(card).to_have_attribute("data-qr-kind", "wechat")
            expect(card.locator("[data-field=scan]")).to_have_text("微信扫码，叫号前提醒您")
            expect(card.locator("img[data-field=qr]")).to_have_js_property("complete", True)
            kiosk.wait_for_function("window.printed === 1")
            number = card.locator("#ticket-number").inner_text()
            card.screenshot(path=ARTIFACTS / "wechat-1-kiosk-ticket.png")

            # What the printed code encodes: the official account's code of this ticket.
            ticket_id = int(card.get_attribute("data-ticket-id") or 0)
            ticket_url = card.get_attribute("data-ticket-url") or ""
            token = parse_qs(urlsplit(ticket_url).query)["token"][0]
            qr = httpx.get(
                f"{base}/api/v1/tickets/{ticket_id}/wechat-qr", params={"token": token}
            ).json()
            assert qr["kind"] == "wechat"
            assert qr["url"].startswith(f"{wechat}/q/")
            printed = httpx.get(f"{base}/t/{ticket_id}/wechat-qr.svg", params={"token": token})
            assert printed.content == svg_of(qr["url"])

            # Scanning it with WeChat: 张晓梅 follows the account; the account answers.
            phone = phone_context(browser).new_page()
            phone.goto(qr["url"])
            phone.screenshot(path=ARTIFACTS / "wechat-2-scan.png")
            phone.get_by_role("button", name=re.compile("张晓梅")).click()
            expect(phone.locator(".reply")).to_have_text(f"已绑定 {number} 号，叫号前将提醒您")
            phone.screenshot(path=ARTIFACTS / "wechat-3-bound.png")
            assert owner_of(ticket_id) == "o_demo_1"

            phone.goto(f"{wechat}/phone/o_demo_1")
            expect(phone.locator(".card h2").first).to_have_text("即将叫号提醒")

            # The counter calls it: the call message names the counter, within seconds.
            staff = {"Authorization": f"Bearer {staff_token}"}
            opened = httpx.post(f"{base}/api/v1/counters/{counter.pk}/open", headers=staff)
            assert opened.status_code == 200, opened.text
            called = httpx.post(f"{base}/api/v1/counters/{counter.pk}/call-next", headers=staff)
            assert called.json()["number"] == number
            newest = phone.locator(".card").first
            expect(newest.locator("h2")).to_have_text(
                "叫号通知", timeout=CALL_MESSAGE_SECONDS * 1000
            )
            expect(newest).to_contain_text(number)
            expect(newest).to_contain_text(f"1号窗口 {counter.name}")
            phone.screenshot(path=ARTIFACTS / "wechat-4-call-message.png")
            assert official_account.template_ids("o_demo_1") == ["tpl_pre_call", "tpl_call"]
        finally:
            browser.close()
    assert script_errors == []


@pytest.mark.browser
@pytest.mark.server
def test_the_ticket_pages_wechat_button_binds_the_ticket_through_oauth(
    demo: dict[str, Any], official_account: OfficialAccount
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    hall = demo["halls"][0]
    base = official_account.hallq.url
    services = httpx.get(f"{base}/api/v1/halls/{hall['id']}/services").json()
    issued = httpx.post(
        f"{base}/api/v1/halls/{hall['id']}/tickets",
        json={"service_id": services[0]["id"], "channel": "kiosk"},
        headers={"Authorization": f"Bearer {hall['kiosk_token']}"},
    ).json()
    ticket_page = f"{base}/t/{issued['id']}/?token={issued['token']}"
    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=STEP_SECONDS * 1000)
    script_errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            phone = phone_context(browser).new_page()
            phone.on("pageerror", lambda error: script_errors.append(f"{phone.url}: {error}"))
            phone.goto(ticket_page)
            expect(phone.locator("body")).to_have_attribute("data-state", "waiting")
            expect(phone.locator("#wechat-bound")).to_be_hidden()
            phone.screenshot(path=ARTIFACTS / "wechat-5-ticket-page.png", full_page=True)

            # From WeChat's snapshot page the visitor cannot be told apart: nothing is bound.
            phone.get_by_role("link", name="用微信接收叫号提醒").click()
            expect(phone).to_have_url(re.compile(r"/connect/oauth2/authorize\?"))
            phone.screenshot(path=ARTIFACTS / "wechat-6-oauth.png")
            phone.get_by_role("link", name=re.compile("快照页用户")).click()
            expect(phone).to_have_url(ticket_page)  # the fragment has left the address bar
            expect(phone.locator("#reminders-message")).to_contain_text("请在微信中打开")
            assert owner_of(issued["id"]) == ""

            phone.get_by_role("link", name="用微信接收叫号提醒").click()
            phone.get_by_role("link", name=re.compile("李建国")).click()
            expect(phone).to_have_url(ticket_page)
            expect(phone.locator("#wechat-bound")).to_be_visible()
            expect(phone.locator("#wechat-bound")).to_contain_text("已绑定")
            expect(phone.get_by_role("link", name="用微信接收叫号提醒")).to_be_hidden()
            expect(phone.locator("#reminders-message")).to_be_hidden()
            assert owner_of(issued["id"]) == "o_demo_2"

            phone.select_option("#pre-call-distance", "5")
            expect(phone.locator("#reminders-message")).to_have_text(
                "已保存：前面还有 5 人时提醒您。"
            )
            distance = from_database(lambda: Ticket.objects.get(pk=issued["id"]).pre_call_distance)
            assert distance == 5
            phone.screenshot(path=ARTIFACTS / "wechat-7-ticket-bound.png", full_page=True)

            # The page shows the binding and the distance when opened again.
            phone.goto(ticket_page)
            expect(phone.locator("#wechat-bound")).to_be_visible()
            expect(phone.locator("#pre-call-distance")).to_have_value("5")
            # Nobody is ahead, so the pre-call went out once the ticket was bound: as a
            # subscription message, since hallq learns who follows the account only from the
            # callback's events and this user never scanned a code.
            wait_for(lambda: official_account.template_ids("o_demo_2") != [])
            assert official_account.template_ids("o_demo_2") == ["sub_pre_call"]
        finally:
            browser.close()
    assert script_errors == []


@pytest.mark.browser
@pytest.mark.server
def test_a_wechat_account_signs_in_by_sms_once_and_by_wechat_afterwards(
    demo: dict[str, Any], official_account: OfficialAccount
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    citizen = make_citizen(1, now=clock.now())
    base = official_account.hallq.url
    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=STEP_SECONDS * 1000)
    script_errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            phone = phone_context(browser).new_page()
            phone.on("pageerror", lambda error: script_errors.append(f"{phone.url}: {error}"))
            sign_in = f"{base}/book/sign-in/?next=%2Fme%2F"

            phone.goto(f"{base}/me/")
            expect(phone).to_have_url(sign_in)
            phone.get_by_role("link", name="微信登录").click()
            phone.get_by_role("link", name=re.compile("快照页用户")).click()
            expect(phone).to_have_url(sign_in)
            expect(phone.locator("#alert")).to_contain_text("请在微信中打开")

            # The first time, WeChat alone is not enough: the SMS sign-in binds the account.
            phone.get_by_role("link", name="微信登录").click()
            phone.get_by_role("link", name=re.compile("王芳")).click()
            expect(phone).to_have_url(sign_in)
            expect(phone.locator("#notice")).to_contain_text("首次使用微信登录")
            expect(phone.locator("#wechat-sign-in-box")).to_be_hidden()
            phone.screenshot(path=ARTIFACTS / "wechat-8-sign-in-first-time.png")
            phone.fill("#mobile", citizen.mobile)
            phone.get_by_role("button", name="获取验证码").click()
            expect(phone.locator("#notice")).to_contain_text("验证码已发送")
            phone.fill("#code", sms_code(official_account.hallq.log))
            phone.get_by_role("button", name="登录", exact=True).click()
            expect(phone).to_have_url(f"{base}/me/")
            bound_to = from_database(
                lambda: list(CitizenWechat.objects.values_list("openid", "citizen_id"))
            )
            assert bound_to == [("o_demo_3", citizen.pk)]

            # Signed out, WeChat signs them in without a code.
            phone.evaluate("localStorage.clear()")
            phone.goto(f"{base}/me/")
            expect(phone).to_have_url(sign_in)
            phone.get_by_role("link", name="微信登录").click()
            phone.get_by_role("link", name=re.compile("王芳")).click()
            expect(phone).to_have_url(f"{base}/me/")
            token = phone.evaluate("localStorage.getItem('hallq.citizen.token')")
            assert token
            phone.screenshot(path=ARTIFACTS / "wechat-9-signed-in-by-wechat.png")
        finally:
            browser.close()
    assert script_errors == []


def sms_code(log: Path) -> str:
    deadline = time.monotonic() + STEP_SECONDS
    while time.monotonic() < deadline:
        codes = SMS_CODE.findall(log.read_text(encoding="utf-8", errors="replace"))
        if codes:
            return str(codes[-1])
        time.sleep(0.1)
    raise AssertionError("no sign-in code in the server's log")
