"""Fixtures of the official-account tests: the account's settings, a small hall, and WeChat's
side of the callback (signed deliveries, plain or encrypted)."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from django.conf import settings
from django.test import Client
from django.utils import translation

from hallq.common import clock
from hallq.conftest import free_port
from hallq.halls.models import Counter, Hall, Service
from hallq.queueing import services as queue
from hallq.queueing.models import Channel, Ticket
from hallq.queueing.tests.factories import make_counter, make_hall, make_service
from hallq.wechat.protocol import callback_signature, message_crypto, message_signature
from hallq.wechat.sandbox.app import SandboxApp
from hallq.wechat.sandbox.state import SandboxConfig

TOKEN = "hallq-test-token"
APP_ID = "wx0123456789abcdef"
ACCOUNT = "gh_hallq_test"
# The EncodingAESKey of WeChat's own safe-mode example (research notes §10).
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"

_create_times = itertools.count(int(time.time()) - 100)


@pytest.fixture(autouse=True)
def official_account(settings: Any) -> None:
    settings.WECHAT_TOKEN = TOKEN
    settings.WECHAT_APP_ID = ""
    settings.WECHAT_APP_SECRET = ""
    settings.WECHAT_AES_KEY = ""
    settings.PUBLIC_URL = ""


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


def event_xml(openid: str, event: str, key: str = "", *, create_time: int | None = None) -> str:
    """An event as WeChat delivers it; each gets its own CreateTime unless one is given."""
    created = create_time if create_time is not None else next(_create_times)
    return (
        "<xml>"
        f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>"
        f"<EventKey><![CDATA[{key}]]></EventKey>"
        "</xml>"
    )


@dataclass
class WeChat:
    """WeChat's servers as the callback sees them: they sign every delivery with our token."""

    client: Client
    token: str = TOKEN

    def query(self, *, timestamp: int | None = None, nonce: str = "462057", **extra: str) -> str:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        params = {
            "timestamp": stamp,
            "nonce": nonce,
            "signature": callback_signature(self.token, stamp, nonce),
            "openid": "o_any",
            **extra,
        }
        return urlencode(params)

    def deliver(self, body: str | bytes, **query: Any) -> Any:
        return self.client.post(
            f"/wechat/callback?{self.query(**query)}", body, content_type="text/xml"
        )

    def deliver_encrypted(self, xml: str, *, nonce: str = "462057") -> Any:
        stamp = str(int(time.time()))
        envelope = message_crypto().encrypt_message(xml, nonce, stamp)
        encrypted = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
        query = {
            "timestamp": stamp,
            "nonce": nonce,
            "signature": callback_signature(self.token, stamp, nonce),
            "encrypt_type": "aes",
            "msg_signature": message_signature(self.token, stamp, nonce, encrypted),
        }
        return self.client.post(
            f"/wechat/callback?{urlencode(query)}", envelope, content_type="text/xml"
        )


@pytest.fixture
def wechat(client: Client) -> WeChat:
    return WeChat(client)


@dataclass
class SmallHall:
    hall: Hall
    service: Service
    counter: Counter

    def issue(self, count: int = 1) -> list[Ticket]:
        return [
            queue.ticket_issue(
                hall=self.hall, service=self.service, channel=Channel.KIOSK, now=clock.now()
            )
            for _ in range(count)
        ]

    def call(self) -> Ticket | None:
        return queue.counter_call_next(counter_id=self.counter.pk, now=clock.now())


@pytest.fixture
def small_hall(db: None) -> SmallHall:
    hall = make_hall()
    service = make_service(hall, "A", "社保卡办理")
    counter = make_counter(hall, 3, [service], name="社保")
    return SmallHall(hall=hall, service=service, counter=counter)


# The stand-in for WeChat's servers (hallq.wechat.sandbox), served for real on a free port.

SANDBOX_SECRET = "sandbox-test-secret"


@dataclass
class Sandbox:
    url: str
    app: SandboxApp
    http: httpx.Client

    def post(self, path: str, body: Any = None) -> Any:
        return self.http.post(path, json=body or {}).json()

    def messages(self, openid: str) -> list[dict[str, Any]]:
        answer = self.http.get("/sandbox/messages", params={"openid": openid}).json()
        return list(answer["messages"])

    def stats(self) -> dict[str, int]:
        return dict(self.http.get("/sandbox/stats").json())

    def send_events_to(self, url: str) -> None:
        self.app.state.config = dataclasses.replace(self.app.state.config, callback_url=url)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    config = SandboxConfig(
        app_id=APP_ID,
        app_secret=SANDBOX_SECRET,
        token=TOKEN,
        aes_key="",
        callback_url="http://127.0.0.1:9/nowhere",
        account_id=ACCOUNT,
    )
    app = SandboxApp(config)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the stand-in did not start"
        time.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=10) as http:
        yield Sandbox(url=url, app=app, http=http)
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def sandbox(sandbox_server: Sandbox, settings: Any) -> Sandbox:
    """The stand-in, reset, with hallq's official account pointed at it."""
    sandbox_server.post("/sandbox/reset")
    settings.WECHAT_APP_ID = APP_ID
    settings.WECHAT_APP_SECRET = SANDBOX_SECRET
    settings.WECHAT_API_BASE = sandbox_server.url
    settings.WECHAT_OAUTH_BASE = sandbox_server.url
    settings.WECHAT_TIMEOUT_SECONDS = 2
    return sandbox_server
