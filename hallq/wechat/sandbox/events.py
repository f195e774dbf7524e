"""Events the stand-in pushes to hallq's callback, signed (and encrypted in safe mode) as WeChat
does, and the passive reply read back."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import requests
from wechatpy.crypto import WeChatCrypto

from hallq.wechat import protocol
from hallq.wechat.sandbox.state import SandboxState

# WeChat gives up on a callback after 5 s.
CALLBACK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Delivery:
    status: int  # 0: no answer in time
    reply: str | None  # the text of a passive text reply

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "reply": self.reply}


def event_xml(state: SandboxState, openid: str, fields: dict[str, str]) -> str:
    # Real time, not the stand-in's advanced clock: the callback checks freshness.
    created = str(int(time.time()))
    parts = [
        f"<ToUserName>{escape(state.config.account_id)}</ToUserName>",
        f"<FromUserName>{escape(openid)}</FromUserName>",
        f"<CreateTime>{created}</CreateTime>",
        *(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items()),
    ]
    return "<xml>" + "".join(parts) + "</xml>"


def scan_fields(state: SandboxState, openid: str, scene: str, ticket: str) -> dict[str, str]:
    """A follower's scan is SCAN; anyone else follows the account by scanning it."""
    user = state.users[openid]
    if user.follower:
        fields = {"MsgType": "event", "Event": "SCAN", "EventKey": scene}
    else:
        fields = {"MsgType": "event", "Event": "subscribe", "EventKey": f"qrscene_{scene}"}
    if ticket:
        fields["Ticket"] = ticket
    return fields


def apply_to_user(state: SandboxState, openid: str, fields: dict[str, str]) -> None:
    event = fields.get("Event", "")
    if event == "subscribe":
        state.users[openid].follower = True
    elif event == "unsubscribe":
        state.users[openid].follower = False


def signed_request(state: SandboxState, openid: str, xml: str) -> tuple[str, bytes]:
    """The callback URL with its query (signature, …) and the body, as WeChat would send them."""
    config = state.config
    timestamp = str(int(time.time()))
    nonce = str(secrets.randbelow(10**9))
    params = {
        "signature": protocol.callback_signature(config.token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": openid,
    }
    body = xml
    if config.aes_key:
        crypto = WeChatCrypto(config.token, config.aes_key, config.app_id)
        envelope = protocol.parse_xml(crypto.encrypt_message(xml, nonce, timestamp))
        encrypted = envelope["Encrypt"]
        params["encrypt_type"] = "aes"
        params["msg_signature"] = envelope["MsgSignature"]
        body = (
            f"<xml><ToUserName><![CDATA[{config.account_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
    separator = "&" if "?" in config.callback_url else "?"
    return f"{config.callback_url}{separator}{urlencode(params)}", body.encode()


def read_reply(state: SandboxState, body: bytes) -> str | None:
    if not body.strip() or body.strip() == b"success":
        return None
    try:
        fields = protocol.parse_xml(body)
        if "Encrypt" in fields:
            config = state.config
            crypto = WeChatCrypto(config.token, config.aes_key, config.app_id)
            plain = crypto.decrypt_message(
                {"Encrypt": fields["Encrypt"]},
                fields.get("MsgSignature", ""),
                fields.get("TimeStamp", ""),
                fields.get("Nonce", ""),
            )
            fields = protocol.parse_xml(plain)
    except Exception:  # whatever hallq answered, the stand-in reports rather than crashes
        return "（公众号回复无法解析：WeChat 会向用户显示“该公众号暂时无法提供服务”）"
    return fields.get("Content", "")


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    try:
        response = requests.post(
            url,
            data=body,
            headers={"Content-Type": "text/xml; charset=utf-8"},
            timeout=CALLBACK_TIMEOUT_SECONDS,
        )
    except requests.RequestException:
        return 0, b""
    return response.status_code, response.content


async def deliver(
    state: SandboxState, openid: str, fields: dict[str, str], *, repeat: int = 1
) -> list[Delivery]:
    """Send one event ``repeat`` times, identically (as WeChat retries a slow callback)."""
    apply_to_user(state, openid, fields)
    url, body = signed_request(state, openid, event_xml(state, openid, fields))
    deliveries = []
    for _ in range(repeat):
        state.count("callbacks_sent")
        status, reply_body = await asyncio.to_thread(_post, url, body)
        reply = read_reply(state, reply_body) if status == 200 else None
        deliveries.append(Delivery(status=status, reply=reply))
    return deliveries
