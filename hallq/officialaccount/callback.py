"""What the official account does with a message WeChat delivers to its callback (§6).

Everything here is a few row writes: WeChat drops the connection after 5 seconds and shows the
user 「该公众号暂时无法提供服务」, so nothing slow (no call to WeChat, no SMS) happens while it
waits; messages to users go through the notification outbox instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from hallq.common.errors import HallqError
from hallq.notifications.services import follower_set
from hallq.officialaccount.models import CallbackReceipt
from hallq.officialaccount.services import ticket_bind, ticket_id_from_scene

# Longer than the callback's timestamp window (wechat.protocol.CALLBACK_MAX_AGE_SECONDS), so a
# redelivery or replay is refused by one or the other.
RECEIPT_RETENTION = timedelta(days=1)
SCENE_PREFIX_ON_SUBSCRIBE = "qrscene_"


def message_key(message: Mapping[str, str]) -> str:
    """A message's identity across redeliveries: its MsgId, or for events (which have none)
    the sender and the second it was created (research notes §3), with the event's name."""
    if message.get("MsgId"):
        identity = f"msg:{message['MsgId']}"
    else:
        identity = ":".join(
            (
                "event",
                message.get("FromUserName", ""),
                message.get("CreateTime", ""),
                message.get("Event", ""),
            )
        )
    return hashlib.sha256(identity.encode()).hexdigest()


def callback_receipt_record(*, key: str, now: datetime) -> bool:
    """Note a delivery; False when it was seen before (its effect has committed already).

    On PostgreSQL a redelivery arriving while the first is still being handled waits on the
    unique index for the first to commit or roll back.
    """
    try:
        with transaction.atomic():
            CallbackReceipt.objects.create(key=key, received_at=now)
    except IntegrityError:
        return False
    return True


def callback_receipts_prune(*, now: datetime) -> int:
    deleted, _by_model = CallbackReceipt.objects.filter(
        received_at__lt=now - RECEIPT_RETENTION
    ).delete()
    return deleted


@transaction.atomic
def callback_message_handle(*, message: Mapping[str, str], now: datetime) -> str | None:
    """Act on one genuine message; returns the text to reply to the user, or None.

    The receipt and the message's effect commit together: a delivery that failed midway is
    handled again when WeChat redelivers it, and one that succeeded is not.
    """
    if not callback_receipt_record(key=message_key(message), now=now):
        return None
    if message.get("MsgType") != "event":
        return None
    openid = message.get("FromUserName", "")
    event = message.get("Event", "").lower()
    scene = message.get("EventKey", "")
    if event == "subscribe":
        follower_set(openid=openid, subscribed=True, now=now)
        if scene.startswith(SCENE_PREFIX_ON_SUBSCRIBE):
            return _bind_by_scene(openid, scene.removeprefix(SCENE_PREFIX_ON_SUBSCRIBE), now)
        return None
    if event == "unsubscribe":
        follower_set(openid=openid, subscribed=False, now=now)
        return None
    if event == "scan":
        # WeChat sends SCAN only for a follower: one who followed before hallq was listening
        # is recorded now, or template messages would pass them by.
        follower_set(openid=openid, subscribed=True, now=now)
        return _bind_by_scene(openid, scene, now)
    return None


def _bind_by_scene(openid: str, scene: str, now: datetime) -> str:
    ticket_id = ticket_id_from_scene(scene)
    if ticket_id is None or not openid:
        return _("This QR code is not valid.")
    try:
        ticket = ticket_bind(ticket_id=ticket_id, openid=openid, now=now)
    except HallqError as error:
        return str(error.message)
    return _("Ticket %(number)s is bound to you: we will let you know before it is called.") % {
        "number": ticket.number
    }
