"""The WeChat and SMS stand-in (``manage.py wechat_sandbox``) in its own process, and settings
that point hallq at it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hallq.conftest import BASE_DIR, free_port, wait_until_answering
from hallq.notifications.models import NotificationKind

APP_ID = "wx_notifications_test"
APP_SECRET = "notifications-test-secret"
SMS_KEY_ID = "LTAI-notifications-test"


@dataclass
class Sandbox:
    url: str

    def messages(self, **filters: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/sandbox/messages", params=filters, timeout=5)
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    def stats(self) -> dict[str, int]:
        stats: dict[str, int] = httpx.get(f"{self.url}/sandbox/stats", timeout=5).json()
        return stats

    def fail(self, **plan: object) -> None:
        httpx.post(f"{self.url}/sandbox/fail", json=plan, timeout=5).raise_for_status()

    def user(self, openid: str, **flags: bool) -> None:
        httpx.post(f"{self.url}/sandbox/user", json={"openid": openid, **flags}, timeout=5)

    def wait_for(self, name: str, value: int, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while self.stats().get(name, 0) < value:
            if time.monotonic() > deadline:
                raise AssertionError(f"the stand-in's {name} stayed at {self.stats().get(name)}")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log: Path = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [
                sys.executable,
                str(BASE_DIR / "manage.py"),
                "wechat_sandbox",
                "--port",
                str(port),
                "--app-id",
                APP_ID,
                "--app-secret",
                APP_SECRET,
                "--callback-url",
                "http://127.0.0.1:9/wechat/callback",
                "--sms-access-key-id",
                SMS_KEY_ID,
            ],
            cwd=BASE_DIR,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(process, f"{url}/sandbox/stats", log, "the stand-in")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def sandbox_settings(url: str) -> dict[str, Any]:
    return {
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_API_BASE": url,
        "WECHAT_TIMEOUT_SECONDS": 5.0,
        "SMS_BACKEND": "hallq.common.sms.AliyunBackend",
        "SMS_ENDPOINT": url,
        "SMS_ACCESS_KEY_ID": SMS_KEY_ID,
        "SMS_ACCESS_KEY_SECRET": "secret",
        "SMS_SDK_APP_ID": "1400000001",
        "SMS_TEMPLATE_CODES": {kind.value: f"SMS_{kind.value}" for kind in NotificationKind},
    }


@pytest.fixture
def sandbox(sandbox_url: str, settings: Any) -> Sandbox:
    """The stand-in, reset, with hallq pointed at it (official account configured, SMS by
    Aliyun's SDK)."""
    httpx.post(f"{sandbox_url}/sandbox/reset", timeout=5).raise_for_status()
    for name, value in sandbox_settings(sandbox_url).items():
        setattr(settings, name, value)
    return Sandbox(sandbox_url)
