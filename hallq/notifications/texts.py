"""What each kind of notification says, on each channel.

A notification carries its facts as ``data`` (short strings, formatted by whoever enqueues it);
these functions turn them into a WeChat template's fields and an SMS template's parameters.
The texts are Chinese only: SMS templates and WeChat templates are registered, in Chinese, with
the vendor, which sends nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from hallq.notifications.models import NotificationKind

# The facts each kind needs in ``data``. Any kind may also carry "url": the page the message
# opens (the ticket page, the evaluation form); it is a link, not a field.
DATA_KEYS: dict[NotificationKind, tuple[str, ...]] = {
    NotificationKind.BOOKING_CONFIRMED: ("hall", "service", "time"),
    NotificationKind.BOOKING_CANCELLED: ("hall", "service", "time"),
    NotificationKind.BOOKING_REMINDER: ("hall", "service", "time"),
    NotificationKind.PRE_CALL: ("number", "service", "ahead"),
    NotificationKind.CALL: ("number", "service", "counter"),
    NotificationKind.RECALL: ("number", "service", "counter"),
    NotificationKind.NO_SHOW: ("number", "service"),
    NotificationKind.APPOINTMENT_NO_SHOW: ("hall", "service", "time"),
    NotificationKind.BLACKLISTED: ("until",),
    NotificationKind.EVALUATION: ("number", "service"),
}

LINK_KEY = "url"

# The SMS templates as registered with the vendor; the order of the placeholders is the order
# of Tencent Cloud's numbered parameters ({1}, {2}, …).
SMS_TEMPLATES: dict[str, str] = {
    NotificationKind.BOOKING_CONFIRMED: "您已预约{hall}的{service}，时间{time}，请按时到场。",
    NotificationKind.BOOKING_CANCELLED: "您在{hall}的{service}预约（{time}）已取消。",
    NotificationKind.BOOKING_REMINDER: "提醒：您预约了{hall}的{service}，时间{time}，请按时到场。",
    NotificationKind.PRE_CALL: "您的号码{number}（{service}）前面还有{ahead}人，请留意叫号。",
    NotificationKind.CALL: "请{number}号到{counter}办理{service}。",
    NotificationKind.RECALL: "再次呼叫：请{number}号到{counter}办理{service}。",
    NotificationKind.NO_SHOW: "您的号码{number}（{service}）呼叫未到，已过号。",
    NotificationKind.APPOINTMENT_NO_SHOW: "您预约的{hall}{service}（{time}）未到场，已记爽约一次。",
    NotificationKind.BLACKLISTED: "因多次预约未到场，您的预约资格暂停至{until}。",
    NotificationKind.EVALUATION: "您的{service}业务（{number}）已办结，欢迎评价本次服务。",
}

# WeChat's limits on a field's value (characters), by the field key's type prefix
# (integration notes §2); a template message's keyword values are ≤ 20 characters.
TEMPLATE_FIELD_LIMIT = 20
SUBSCRIBE_FIELD_LIMITS = {
    "thing": 20,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "phone_number": 17,
    "name": 10,
    "phrase": 5,
}

_LINE_BREAKS = re.compile(r"[\r\n]+")


def missing_keys(kind: str, data: Mapping[str, str]) -> list[str]:
    return [key for key in DATA_KEYS[NotificationKind(kind)] if key not in data]


def fit(value: str, limit: int) -> str:
    """One line of at most ``limit`` characters: WeChat truncates or refuses anything longer."""
    value = _LINE_BREAKS.sub(" ", value).strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _fields(kind: str, data: Mapping[str, str], layout: Mapping[str, str] | None) -> dict[str, str]:
    """The template's fields: by the configured layout (template key → a format over the data,
    e.g. ``{"thing2": "{service} {counter}"}``), or else the kind's facts under their own names."""
    if layout:
        return {key: text.format_map(data) for key, text in layout.items()}
    return {key: data[key] for key in DATA_KEYS[NotificationKind(kind)]}


def template_fields(
    kind: str, data: Mapping[str, str], layout: Mapping[str, str] | None = None
) -> dict[str, str]:
    return {
        key: fit(value, TEMPLATE_FIELD_LIMIT) for key, value in _fields(kind, data, layout).items()
    }


def subscribe_fields(
    kind: str, data: Mapping[str, str], layout: Mapping[str, str] | None = None
) -> dict[str, str]:
    return {
        key: fit(value, _subscribe_limit(key)) for key, value in _fields(kind, data, layout).items()
    }


def _subscribe_limit(key: str) -> int:
    kind_of_field = key.rstrip("0123456789")
    return SUBSCRIBE_FIELD_LIMITS.get(kind_of_field, TEMPLATE_FIELD_LIMIT)


def sms_params(kind: str, data: Mapping[str, str]) -> dict[str, str]:
    # Vendors refuse a template variable longer than their limit (Aliyun: 35 characters).
    return {key: fit(data[key], 35) for key in DATA_KEYS[NotificationKind(kind)]}


def link(data: Mapping[str, str]) -> str | None:
    return data.get(LINK_KEY) or None
