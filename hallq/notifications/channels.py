"""The channels a notification can go by, tried in order (integration notes §2): a template
message to a follower of the official account, else a subscription message (bizsend) the
citizen accepted, else SMS.

A channel only talks to its vendor: it reads no database, so the delivery can run several at
once in threads. It says whether it applies to a message, and how a send went.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from hallq.common import sms
from hallq.notifications import texts
from hallq.notifications.models import DeliveryChannel
from hallq.wechat.client import WeChatError, get_client, wechat_configured

logger = logging.getLogger(__name__)

# WeChat's answers meaning "not by this channel, for this citizen or this template": the next
# channel is tried at once. Every other error (quota 45009/45011, busy -1, unreachable -2,
# a token that would not refresh) may pass, so the whole chain is tried again later.
NEXT_CHANNEL_ERRCODES = frozenset(
    {
        40003,  # invalid openid
        40037,  # invalid template id
        43004,  # require subscribe: not a follower (any more)
        43019,  # the citizen blocked the account
        43101,  # user refused: no (or a used-up) subscription
        47003,  # a template field the template does not accept
        48001,  # the account may not use this interface
    }
)


@dataclass(frozen=True, slots=True)
class Message:
    """What a channel needs of a notification."""

    notification_id: int
    kind: str
    openid: str
    mobile: str
    data: dict[str, str]
    follower: bool

    @property
    def dedup_id(self) -> str:
        # The vendor drops a second message with the same id: a notification re-sent after a
        # worker died mid-delivery reaches the citizen once.
        return f"hallq-{self.notification_id}"


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    errcode: str = ""
    error: str = ""
    # It may pass later: retry the chain after a back-off rather than try the next channel
    # (a timeout may even have delivered; another channel would send it twice).
    transient: bool = False


class Channel(Protocol):
    name: DeliveryChannel

    def skip_reason(self, message: Message) -> str | None:
        """Why this channel cannot take the message; None when it can."""
        ...

    def send(self, message: Message) -> Outcome: ...


def _wechat_outcome(error: WeChatError) -> Outcome:
    return Outcome(
        ok=False,
        errcode=str(error.errcode),
        error=str(error.errmsg)[:500],
        transient=error.errcode not in NEXT_CHANNEL_ERRCODES,
    )


def _template(templates: dict[str, dict[str, object]], kind: str) -> tuple[str, dict[str, str]]:
    """The kind's template id and field layout (``WECHAT_TEMPLATES``: kind → {"template_id",
    "fields": {template key: a format over the data, e.g. "{service} {counter}"}})."""
    config = templates[kind]
    layout = config.get("fields") or {}
    if not isinstance(layout, dict):
        raise ImproperlyConfigured(f"the fields of the {kind} template must be a mapping")
    return str(config["template_id"]), {str(key): str(value) for key, value in layout.items()}


class WechatTemplateChannel:
    name = DeliveryChannel.WECHAT_TEMPLATE

    def skip_reason(self, message: Message) -> str | None:
        if not wechat_configured():
            return "WeChat is not configured"
        if not message.openid:
            return "no openid"
        if not message.follower:
            return "not a follower"
        if message.kind not in settings.WECHAT_TEMPLATES:
            return "no template for this kind"
        return None

    def send(self, message: Message) -> Outcome:
        template_id, layout = _template(settings.WECHAT_TEMPLATES, message.kind)
        try:
            get_client().send_template(
                openid=message.openid,
                template_id=template_id,
                data=texts.template_fields(message.kind, message.data, layout),
                url=texts.link(message.data),
                client_msg_id=message.dedup_id,
            )
        except WeChatError as error:
            return _wechat_outcome(error)
        return Outcome(ok=True)


class WechatSubscribeChannel:
    name = DeliveryChannel.WECHAT_SUBSCRIBE

    def skip_reason(self, message: Message) -> str | None:
        if not wechat_configured():
            return "WeChat is not configured"
        if not message.openid:
            return "no openid"
        if message.kind not in settings.WECHAT_SUBSCRIBE_TEMPLATES:
            return "no subscription template for this kind"
        return None

    def send(self, message: Message) -> Outcome:
        # Whether the citizen accepted this template only WeChat knows: 43101 says no.
        template_id, layout = _template(settings.WECHAT_SUBSCRIBE_TEMPLATES, message.kind)
        try:
            get_client().send_subscribe(
                openid=message.openid,
                template_id=template_id,
                data=texts.subscribe_fields(message.kind, message.data, layout),
                page=texts.link(message.data),
            )
        except WeChatError as error:
            return _wechat_outcome(error)
        return Outcome(ok=True)


class SmsChannel:
    name = DeliveryChannel.SMS

    def __init__(self) -> None:
        # Made on first use, once for all the round's threads: a vendor SDK's client is slow
        # to build, and most rounds send no SMS.
        self._backend: sms.SmsBackend | None = None
        self._lock = threading.Lock()

    @property
    def backend(self) -> sms.SmsBackend:
        with self._lock:
            if self._backend is None:
                self._backend = sms.get_backend()
            return self._backend

    def skip_reason(self, message: Message) -> str | None:
        if not message.mobile:
            return "no mobile number"
        if message.kind not in sms.TEMPLATES:
            return "no SMS template for this kind"
        return None

    def send(self, message: Message) -> Outcome:
        result = self.backend.send(
            message.mobile,
            message.kind,
            texts.sms_params(message.kind, message.data),
            out_id=message.dedup_id,
        )
        if result.ok:
            return Outcome(ok=True)
        return Outcome(
            ok=False,
            errcode=result.error_code,
            error=result.error_message[:500],
            transient=result.transient,
        )


def default_chain() -> list[Channel]:
    """The chain for one round of delivery (the SMS backend is made once per round)."""
    return [WechatTemplateChannel(), WechatSubscribeChannel(), SmsChannel()]
