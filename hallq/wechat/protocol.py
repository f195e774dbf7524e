"""The WeChat official-account protocol: signatures, safe mode (AES) and callback parsing.

Research notes §3 and §10. Pure functions over bytes and strings, except ``message_crypto`` and
the defaults of ``parse_callback``, which read the account's settings and the clock.

A callback is refused (``CallbackRefused``) unless it is signed with our token, recent, small,
free of any DTD (entity expansion and external entities are how XML attacks work; WeChat never
sends a DTD), and, in safe mode, encrypted for our account.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from django.conf import settings
from wechatpy.crypto import WeChatCrypto

from hallq.common import clock

# WeChat's own messages are a few hundred bytes; anything near this is not from WeChat.
MAX_CALLBACK_BYTES = 64 * 1024
# A signed request older than this is a replay (WeChat retries within ~15 s). The callback's
# duplicate filter must remember deliveries at least this long.
CALLBACK_MAX_AGE_SECONDS = 300


class CallbackRefused(Exception):
    """The request is not a genuine callback from WeChat; answer it with an error status.

    ``reason`` is one of: signature, stale, too_large, entities, malformed, decrypt.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _sha1_of_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 (WeChat's choice)


def callback_signature(token: str, timestamp: str, nonce: str) -> str:
    """The ``signature`` WeChat puts on every callback (and its URL check)."""
    return _sha1_of_sorted(token, timestamp, nonce)


def check_signature(token: str, timestamp: str, nonce: str, signature: str) -> bool:
    """The callback's ``signature`` (POST) or URL check (GET with ``echostr``), in constant
    time; never true without a token."""
    expected = callback_signature(token, timestamp, nonce)
    return bool(token) and _same(expected, signature)


def _same(expected: str, given: str) -> bool:
    # As bytes: compare_digest refuses non-ASCII text, which a forger may send.
    return hmac.compare_digest(expected.encode(), given.encode())


def message_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """The ``msg_signature`` of safe mode, over the encrypted message too."""
    return _sha1_of_sorted(token, timestamp, nonce, encrypted)


def jsapi_signature(ticket: str, noncestr: str, timestamp: str | int, url: str) -> str:
    """The JS-SDK ``wx.config`` signature; the page URL is signed without its fragment."""
    page = url.split("#", 1)[0]
    text = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={page}"
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (WeChat's choice)


def message_crypto() -> WeChatCrypto:
    """Safe mode's cipher for our account (requires ``WECHAT_AES_KEY``)."""
    return WeChatCrypto(settings.WECHAT_TOKEN, settings.WECHAT_AES_KEY, settings.WECHAT_APP_ID)


def parse_xml(body: bytes | str) -> dict[str, str]:
    """The children of a WeChat ``<xml>`` document as a flat dict; refuses any DTD."""
    try:
        root: Element = fromstring(body, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException as error:
        raise CallbackRefused("entities") from error
    except ParseError as error:
        raise CallbackRefused("malformed") from error
    if root.tag != "xml":
        raise CallbackRefused("malformed")
    return {child.tag: (child.text or "") for child in root}


def parse_callback(
    body: bytes,
    *,
    params: Mapping[str, str],
    now: datetime | None = None,
) -> dict[str, str]:
    """Check and open one POSTed callback; returns the message's fields (MsgType, Event,
    EventKey, FromUserName, CreateTime, MsgId, …) as strings, exactly as WeChat sent them
    (a subscribe-with-scene keeps its ``qrscene_`` prefix).

    ``params`` are the request's query parameters; ``now`` defaults to the clock. With
    ``WECHAT_AES_KEY`` set, only encrypted (safe-mode) callbacks are accepted.
    """
    token = settings.WECHAT_TOKEN
    if len(body) > MAX_CALLBACK_BYTES:
        raise CallbackRefused("too_large")
    timestamp = params.get("timestamp", "")
    nonce = params.get("nonce", "")
    if not check_signature(token, timestamp, nonce, params.get("signature", "")):
        raise CallbackRefused("signature")
    _check_fresh(timestamp, now or clock.now())
    message = parse_xml(body)
    if not settings.WECHAT_AES_KEY:
        return message
    if params.get("encrypt_type") != "aes" or "Encrypt" not in message:
        raise CallbackRefused("decrypt")
    encrypted = message["Encrypt"]
    expected = message_signature(token, timestamp, nonce, encrypted)
    if not _same(expected, params.get("msg_signature", "")):
        raise CallbackRefused("signature")
    try:
        plain = message_crypto().decrypt_message({"Encrypt": encrypted}, expected, timestamp, nonce)
    except Exception as error:
        # A tampered or foreign ciphertext fails anywhere in base64, padding or the app id.
        raise CallbackRefused("decrypt") from error
    return parse_xml(plain)


def _check_fresh(timestamp: str, now: datetime) -> None:
    try:
        sent_at = int(timestamp)
    except ValueError as error:
        raise CallbackRefused("stale") from error
    if abs(now.timestamp() - sent_at) > CALLBACK_MAX_AGE_SECONDS:
        raise CallbackRefused("stale")


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside CDATA; split it across two sections.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def reply_text(
    to_openid: str,
    text: str,
    *,
    encrypted: bool,
    nonce: str,
    timestamp: str | int,
    from_account: str = "",
) -> str:
    """A passive text reply to a callback, encrypted in safe mode.

    ``from_account`` is the account's original id (``gh_…``): the ``ToUserName`` of the message
    being answered.
    """
    created = str(timestamp)
    xml = (
        "<xml>"
        f"<ToUserName>{_cdata(to_openid)}</ToUserName>"
        f"<FromUserName>{_cdata(from_account)}</FromUserName>"
        f"<CreateTime>{escape(created)}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(text)}</Content>"
        "</xml>"
    )
    if not encrypted:
        return xml
    return str(message_crypto().encrypt_message(xml, nonce, created))
