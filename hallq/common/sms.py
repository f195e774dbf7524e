"""Sending SMS, in the manner of ``django.core.mail``: a backend chosen by ``settings.SMS_BACKEND``.

Chinese SMS gateways send only registered templates under a registered signature (签名), so a
message is a template name and its parameters, never free text. ``TEMPLATES`` holds the text of
each template; the development backends render it, a gateway backend maps the name to the
gateway's template code.

The gateway backends (Aliyun ``SendSms``, Tencent Cloud ``SendSms``; research notes §6) use the
vendors' official SDKs, pointed at ``SMS_ENDPOINT`` (a local stand-in in development and tests).
``SMS_TEMPLATE_CODES`` maps a template name to the vendor's template code. Delivery reports and
the users' replies (uplink) will be parsed by methods of the same backends when they are needed.

Mobile numbers are personal data: a backend never logs or prints one unmasked.
"""

from __future__ import annotations

import json
import re
import string
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, TextIO
from urllib.parse import urlsplit

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
    # The same message may succeed later (rate limits, the vendor busy or unreachable); a
    # permanent failure (a bad number, a template not configured) will not.
    transient: bool = False


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


def register_templates(templates: Mapping[str, str]) -> None:
    """Add templates of another app (its ``AppConfig.ready``) to those the backends know."""
    TEMPLATES.update(templates)


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


# How long a gateway may take to answer before the message counts as not sent (for now).
GATEWAY_TIMEOUT_SECONDS: float = 5

_PHONE_PUNCTUATION = re.compile(r"[\s\-()]")
_MAINLAND_MOBILE = re.compile(r"^1\d{10}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class InvalidPhone(ValueError):
    pass


def e164(phone: str) -> str:
    """``+8613812345678`` from the ways people write a number: 11 mainland digits, with 86,
    0086 or + in front, with spaces or dashes."""
    number = _PHONE_PUNCTUATION.sub("", phone)
    if number.startswith("00"):
        number = "+" + number[2:]
    if _MAINLAND_MOBILE.match(number):
        number = "+86" + number
    elif number.startswith("86") and _MAINLAND_MOBILE.match(number[2:]):
        number = "+" + number
    if not _E164.match(number) or (
        number.startswith("+86") and not _MAINLAND_MOBILE.match(number[3:])
    ):
        raise InvalidPhone("not a mobile number")
    return number


def aliyun_phone(phone: str) -> str:
    """Aliyun wants 11 digits in the mainland, country code and number elsewhere."""
    number = e164(phone)
    return number[3:] if number.startswith("+86") else number[1:]


def template_parameter_order(template: str, params: Mapping[str, str]) -> list[str]:
    """The parameters' names in the order the template text uses them (Tencent's {1}, {2}…)."""
    text = TEMPLATES.get(template)
    if text is None:
        return list(params)
    names: list[str] = []
    for _, name, _, _ in string.Formatter().parse(text):
        if name and name not in names:
            names.append(name)
    return names


def _endpoint() -> tuple[str, str | None]:
    """``SMS_ENDPOINT`` as (protocol, host[:port]); no endpoint: the vendor's own, over https."""
    configured: str = settings.SMS_ENDPOINT
    if not configured:
        return "https", None
    if "://" not in configured:
        return "https", configured.rstrip("/")
    parts = urlsplit(configured)
    return parts.scheme, parts.netloc


def _unconfigured(template: str) -> SendResult | None:
    if template in settings.SMS_TEMPLATE_CODES:
        return None
    return SendResult(
        ok=False,
        error_code="template_not_configured",
        error_message=f"SMS_TEMPLATE_CODES has no vendor template code for {template!r}",
    )


def _invalid_phone() -> SendResult:
    return SendResult(ok=False, error_code="invalid_phone", error_message="not a mobile number")


# Aliyun's codes for failures that may pass when tried again later.
ALIYUN_TRANSIENT = re.compile(
    r"^(isv\.(BUSINESS_LIMIT_CONTROL|DAY_LIMIT_CONTROL|OUT_OF_SERVICE)|isp\.SYSTEM_ERROR"
    r"|Throttling.*|ServiceUnavailable.*|InternalError.*)$"
)


class AliyunBackend:
    """Aliyun SMS (dysmsapi 2017-05-25 ``SendSms``) through its official SDK."""

    def __init__(self) -> None:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        protocol, endpoint = _endpoint()
        self.client = Client(
            Config(
                access_key_id=settings.SMS_ACCESS_KEY_ID,
                access_key_secret=settings.SMS_ACCESS_KEY_SECRET,
                endpoint=endpoint or "dysmsapi.aliyuncs.com",
                protocol=protocol,
                read_timeout=int(GATEWAY_TIMEOUT_SECONDS * 1000),
                connect_timeout=int(GATEWAY_TIMEOUT_SECONDS * 1000),
            )
        )

    def send(
        self,
        phone: str,
        template: str,
        params: dict[str, str],
        *,
        sign_name: str | None = None,
        out_id: str | None = None,
    ) -> SendResult:
        from alibabacloud_dysmsapi20170525.models import SendSmsRequest
        from darabonba.exceptions import DaraException
        from darabonba.runtime import RuntimeOptions

        unconfigured = _unconfigured(template)
        if unconfigured:
            return unconfigured
        try:
            number = aliyun_phone(phone)
        except InvalidPhone:
            return _invalid_phone()
        request = SendSmsRequest(
            phone_numbers=number,
            sign_name=sign_name or settings.SMS_SIGN_NAME,
            template_code=settings.SMS_TEMPLATE_CODES[template],
            template_param=json.dumps(params, ensure_ascii=False),
            out_id=out_id,
        )
        runtime = RuntimeOptions(
            read_timeout=int(GATEWAY_TIMEOUT_SECONDS * 1000),
            connect_timeout=int(GATEWAY_TIMEOUT_SECONDS * 1000),
        )
        try:
            body = self.client.send_sms_with_options(request, runtime).body
        except DaraException as error:
            code = str(error.code or type(error).__name__)
            return SendResult(
                ok=False,
                error_code=code,
                error_message=str(error.message or ""),
                transient=bool(ALIYUN_TRANSIENT.match(code)) or not error.code,
            )
        except Exception as error:  # the connection: refused, reset, timed out
            return SendResult(
                ok=False, error_code="network", error_message=type(error).__name__, transient=True
            )
        if body.code != "OK":
            code = str(body.code)
            return SendResult(
                ok=False,
                error_code=code,
                error_message=str(body.message or ""),
                transient=bool(ALIYUN_TRANSIENT.match(code)),
            )
        return SendResult(ok=True, message_id=str(body.biz_id or ""))


# Tencent Cloud's codes for failures that may pass when tried again later.
TENCENT_TRANSIENT = re.compile(
    r"^(LimitExceeded\..*|RequestLimitExceeded.*|InternalError.*|ClientNetworkError"
    r"|ServerNetworkError|FailedOperation\.(ServiceSuspend|JsonParseFail))$"
)


class TencentBackend:
    """Tencent Cloud SMS (2021-01-11 ``SendSms``) through its official SDK."""

    def __init__(self) -> None:
        from tencentcloud.common.credential import Credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111.sms_client import SmsClient

        protocol, endpoint = _endpoint()
        http = HttpProfile(
            protocol=protocol,
            endpoint=endpoint or "sms.tencentcloudapi.com",
            reqTimeout=GATEWAY_TIMEOUT_SECONDS,
            keepAlive=True,
        )
        self.client = SmsClient(
            Credential(settings.SMS_ACCESS_KEY_ID, settings.SMS_ACCESS_KEY_SECRET),
            "ap-guangzhou",
            ClientProfile(httpProfile=http),
        )

    def send(
        self,
        phone: str,
        template: str,
        params: dict[str, str],
        *,
        sign_name: str | None = None,
        out_id: str | None = None,
    ) -> SendResult:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.sms.v20210111.models import SendSmsRequest

        unconfigured = _unconfigured(template)
        if unconfigured:
            return unconfigured
        try:
            number = e164(phone)
        except InvalidPhone:
            return _invalid_phone()
        request = SendSmsRequest()
        request.PhoneNumberSet = [number]
        request.SmsSdkAppId = settings.SMS_SDK_APP_ID
        request.SignName = sign_name or settings.SMS_SIGN_NAME
        request.TemplateId = settings.SMS_TEMPLATE_CODES[template]
        request.TemplateParamSet = [
            params[name] for name in template_parameter_order(template, params)
        ]
        request.SessionContext = out_id or ""
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as error:
            code = str(error.code or "")
            return SendResult(
                ok=False,
                error_code=code,
                error_message=str(error.message or ""),
                transient=bool(TENCENT_TRANSIENT.match(code)),
            )
        except Exception as error:  # the connection: refused, reset, timed out
            return SendResult(
                ok=False, error_code="network", error_message=type(error).__name__, transient=True
            )
        status = response.SendStatusSet[0]
        if status.Code != "Ok":
            code = str(status.Code)
            return SendResult(
                ok=False,
                error_code=code,
                error_message=str(status.Message or ""),
                transient=bool(TENCENT_TRANSIENT.match(code)),
            )
        return SendResult(ok=True, message_id=str(status.SerialNo or ""))
