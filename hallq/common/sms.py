"""Sending SMS, in the manner of ``django.core.mail``: a backend chosen by ``settings.SMS_BACKEND``.

Chinese SMS gateways send only registered templates under a registered signature (签名), so a
message is a template name and its parameters, never free text. ``TEMPLATES`` holds the text of
each template; the development backends render it, a gateway backend maps the name to the
gateway's template code.

Gateway backends (Aliyun ``SendSms``, Tencent Cloud ``SendSms``; research notes §6) belong
beside the two below, each a class with the same ``send``. Their delivery reports and the users'
replies (uplink) will be parsed by methods of the same backends when they are added.

Mobile numbers are personal data: a backend never logs or prints one unmasked.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, TextIO

from django.conf import settings
from django.utils.module_loading import import_string

TEMPLATES: dict[str, str] = {
    "sign_in_code": "您的登录验证码为 {code}，5 分钟内有效。",
}


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    # The gateway's id of the message (Aliyun BizId, Tencent SerialNo), for delivery reports.
    message_id: str = ""
    error_code: str = ""
    error_message: str = ""


@dataclass(frozen=True, slots=True)
class SmsMessage:
    """A message as the development backends keep it."""

    phone: str
    template: str
    params: dict[str, str]
    sign_name: str
    out_id: str | None
    text: str = field(default="")


class SmsBackend(Protocol):
    def send(
        self,
        phone: str,
        template: str,
        params: dict[str, str],
        *,
        sign_name: str | None = None,
        out_id: str | None = None,
    ) -> SendResult: ...


def get_backend() -> SmsBackend:
    backend: SmsBackend = import_string(settings.SMS_BACKEND)()
    return backend


def mask_phone(phone: str) -> str:
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:]


def render(template: str, params: dict[str, str]) -> str:
    return TEMPLATES[template].format(**params)


def _message(
    phone: str, template: str, params: dict[str, str], sign_name: str | None, out_id: str | None
) -> SmsMessage:
    return SmsMessage(
        phone=phone,
        template=template,
        params=dict(params),
        sign_name=sign_name or settings.SMS_SIGN_NAME,
        out_id=out_id,
        text=render(template, params),
    )


class ConsoleBackend:
    """Prints each message: on a development machine the sign-in code appears in the terminal
    (that is the point), but the mobile number is masked."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(
        self,
        phone: str,
        template: str,
        params: dict[str, str],
        *,
        sign_name: str | None = None,
        out_id: str | None = None,
    ) -> SendResult:
        message = _message(phone, template, params, sign_name, out_id)
        self.stream.write(f"[SMS to {mask_phone(phone)}] 【{message.sign_name}】{message.text}\n")
        self.stream.flush()
        return SendResult(ok=True, message_id=out_id or "")


class LocMemBackend:
    """Keeps messages in ``LocMemBackend.outbox`` for tests (shared by all instances)."""

    outbox: ClassVar[list[SmsMessage]] = []

    def send(
        self,
        phone: str,
        template: str,
        params: dict[str, str],
        *,
        sign_name: str | None = None,
        out_id: str | None = None,
    ) -> SendResult:
        message = _message(phone, template, params, sign_name, out_id)
        LocMemBackend.outbox.append(message)
        return SendResult(ok=True, message_id=str(len(LocMemBackend.outbox)))
