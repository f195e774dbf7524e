"""The stand-in served for real (uvicorn in a thread, on a free port) and a callback receiver
standing for hallq's /wechat/callback, which checks every event as the real one will."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import uvicorn

from hallq.conftest import free_port
from hallq.wechat import protocol
from hallq.wechat.sandbox.app import SandboxApp
from hallq.wechat.sandbox.state import SandboxConfig

APP_ID = "wx_test_account"
APP_SECRET = "test-app-secret"
TOKEN = "test-callback-token"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"


@dataclass
class Callback:
    query: dict[str, str]
    body: bytes
    message: dict[str, str] | None  # None: refused by parse_callback
    refused: str = ""


@dataclass
class CallbackReceiver:
    url: str
    received: list[Callback] = field(default_factory=list)
    # What hallq would answer to an accepted message: the reply's text, or None for "success".
    answer: Callable[[dict[str, str]], str | None] = lambda message: None


def _handler(receiver: CallbackReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            query = dict(parse_qsl(urlsplit(self.path).query))
            try:
                message = protocol.parse_callback(body, params=query)
            except protocol.CallbackRefused as refused:
                receiver.received.append(Callback(query, body, None, refused.reason))
                self._send(403, b"")
                return
            receiver.received.append(Callback(query, body, message))
            text = receiver.answer(message)
            reply = b"success"
            if text is not None:
                reply = protocol.reply_text(
                    message["FromUserName"],
                    text,
                    encrypted=query.get("encrypt_type") == "aes",
                    nonce=query["nonce"],
                    timestamp=query["timestamp"],
                    from_account=message["ToUserName"],
                ).encode()
            self._send(200, reply)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def callback_receiver() -> Iterator[CallbackReceiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = CallbackReceiver(url=f"http://127.0.0.1:{server.server_address[1]}/wechat/callback")
    server.RequestHandlerClass = _handler(receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@dataclass
class RunningSandbox:
    url: str
    app: SandboxApp
    config: SandboxConfig
    http: httpx.Client

    def post(self, path: str, body: Any = None) -> Any:
        return self.http.post(path, json=body or {}).json()

    def get(self, path: str, **params: str) -> Any:
        return self.http.get(path, params=params).json()

    def messages(self, **params: str) -> list[dict[str, Any]]:
        return self.get("/sandbox/messages", **params)["messages"]

    def stats(self) -> dict[str, int]:
        return self.get("/sandbox/stats")

    def safe_mode(self, aes_key: str = AES_KEY) -> None:
        self.app.state.config = dataclasses.replace(self.config, aes_key=aes_key)


@pytest.fixture(scope="session")
def sandbox_server(callback_receiver: CallbackReceiver) -> Iterator[RunningSandbox]:
    config = SandboxConfig(
        app_id=APP_ID,
        app_secret=APP_SECRET,
        token=TOKEN,
        aes_key="",
        callback_url=callback_receiver.url,
        sms_access_key_id="test-sms-key",
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
        yield RunningSandbox(url=url, app=app, config=config, http=http)
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def sandbox(
    sandbox_server: RunningSandbox, callback_receiver: CallbackReceiver, settings: Any
) -> RunningSandbox:
    """A fresh stand-in (state reset), and hallq's settings pointing at it."""
    sandbox_server.app.state.config = sandbox_server.config
    sandbox_server.post("/sandbox/reset")
    callback_receiver.received.clear()
    callback_receiver.answer = lambda message: None
    settings.WECHAT_APP_ID = APP_ID
    settings.WECHAT_APP_SECRET = APP_SECRET
    settings.WECHAT_TOKEN = TOKEN
    settings.WECHAT_AES_KEY = ""
    settings.WECHAT_API_BASE = sandbox_server.url
    settings.WECHAT_OAUTH_BASE = sandbox_server.url
    settings.WECHAT_TIMEOUT_SECONDS = 2
    settings.REDIS_URL = ""
    return sandbox_server
