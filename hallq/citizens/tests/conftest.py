"""Fixtures of the citizen tests: the in-memory SMS outbox and an API caller."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from hallq.citizens import services
from hallq.common import clock
from hallq.common.sms import LocMemBackend, SmsMessage


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    # A request in English leaves English active in this thread; services called directly by
    # the next test must speak the default language again.
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture
def outbox(settings: Any) -> Iterator[list[SmsMessage]]:
    settings.SMS_BACKEND = "hallq.common.sms.LocMemBackend"
    LocMemBackend.outbox.clear()
    yield LocMemBackend.outbox
    LocMemBackend.outbox.clear()


class Api:
    """Calls /api/v1 as a citizen (with their token) in Chinese, or in English on request."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        language: str = "zh-hans",
    ) -> Any:
        headers: dict[str, Any] = {"HTTP_ACCEPT_LANGUAGE": language}
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        url = f"/api/v1{path}"
        if method == "GET":
            return self.client.get(url, **headers)
        return self.client.generic(
            method, url, json.dumps(body or {}), content_type="application/json", **headers
        )


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def send_code(outbox: list[SmsMessage], django_capture_on_commit_callbacks: Any) -> Any:
    """Send a sign-in code (through the service, at ``now``) and return it as the SMS carried
    it."""

    def send(mobile: str = "13812345678", now: datetime | None = None) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            services.sign_in_code_send(mobile=mobile, now=now or clock.now())
        return outbox[-1].params["code"]

    return send
