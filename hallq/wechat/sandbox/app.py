"""The stand-in for WeChat's and the SMS vendors' servers: one raw ASGI app, state in memory.

Routes (see hallq/wechat/README.md for the whole list): WeChat's API under /cgi-bin/ and
/sns/, OAuth consent under /connect/, QR "scans" at /q/<ticket>, the phone view under
/phone/, the SMS vendors at POST /, and control for tests under /sandbox/.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import uvicorn

from hallq.wechat.sandbox import events, pages, sms, wechat_api
from hallq.wechat.sandbox.http import (
    BodyTooLarge,
    Request,
    Response,
    html_response,
    json_response,
    read_request,
    redirect,
    send_response,
)
from hallq.wechat.sandbox.state import FailurePlan, SandboxConfig, SandboxState

Handler = Callable[[Request, SandboxState], Awaitable[Response]]


class SandboxApp:
    def __init__(self, config: SandboxConfig) -> None:
        self.state = SandboxState(config)
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/cgi-bin/token"): wechat_api.token,
            ("POST", "/cgi-bin/stable_token"): wechat_api.stable_token,
            ("POST", "/cgi-bin/message/template/send"): wechat_api.send_template,
            ("POST", "/cgi-bin/message/subscribe/bizsend"): wechat_api.send_subscribe,
            ("POST", "/cgi-bin/qrcode/create"): wechat_api.create_qrcode,
            ("GET", "/cgi-bin/ticket/getticket"): wechat_api.jsapi_ticket,
            ("POST", "/cgi-bin/menu/create"): wechat_api.create_menu,
            ("GET", "/sns/oauth2/access_token"): wechat_api.oauth_access_token,
            ("GET", "/connect/oauth2/authorize"): oauth_authorize,
            ("GET", "/connect/oauth2/pick"): oauth_pick,
            ("GET", "/"): index,
            ("POST", "/"): sms_send,
            ("GET", "/phone/"): phone_index,
            ("GET", "/sandbox/messages"): control_messages,
            ("GET", "/sandbox/stats"): control_stats,
            ("GET", "/sandbox/menu"): control_menu,
            ("POST", "/sandbox/fail"): control_fail,
            ("POST", "/sandbox/reset"): control_reset,
            ("POST", "/sandbox/advance"): control_advance,
            ("POST", "/sandbox/user"): control_user,
            ("POST", "/sandbox/scan"): control_scan,
            ("POST", "/sandbox/event"): control_event,
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        try:
            request = await read_request(scope, receive)
        except BodyTooLarge:
            await send_response(send, json_response({"errcode": 413}, status=413))
            return
        self.state.count("requests")
        await send_response(send, await self.dispatch(request))

    async def dispatch(self, request: Request) -> Response:
        handler = self.routes.get((request.method, request.path))
        if handler is not None:
            return await handler(request, self.state)
        path = request.path
        if path.startswith("/q/") and request.method in {"GET", "POST"}:
            return await qr_code(request, self.state)
        if path.startswith("/phone/sms/") and request.method == "GET":
            return phone_view(request, self.state, path.removeprefix("/phone/sms/"), sms=True)
        if path.startswith("/phone/") and request.method == "GET":
            return phone_view(request, self.state, path.removeprefix("/phone/"), sms=False)
        return json_response({"errcode": 404, "errmsg": "no such API in the stand-in"}, 404)


def serve(config: SandboxConfig, *, host: str, port: int, log_level: str = "info") -> None:
    uvicorn.run(
        SandboxApp(config),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )


# Pages.


async def index(request: Request, state: SandboxState) -> Response:
    return html_response(pages.index(state))


async def phone_index(request: Request, state: SandboxState) -> Response:
    return html_response(pages.phone_index(state))


def phone_view(request: Request, state: SandboxState, who: str, *, sms: bool) -> Response:
    if not sms and who not in state.users:
        return html_response(pages.error_page("没有这个演示用户"), 404)
    if request.query.get("cards"):
        return html_response(pages.cards(state.received_by(who)))
    return html_response(pages.phone_sms(state, who) if sms else pages.phone_user(state, who))


async def oauth_authorize(request: Request, state: SandboxState) -> Response:
    query = request.query
    if query.get("appid") != state.config.app_id:
        return html_response(pages.error_page("appid 错误：不是这个公众号"), 400)
    if not query.get("redirect_uri") or query.get("response_type") != "code":
        return html_response(pages.error_page("redirect_uri 或 response_type 参数错误"), 400)
    return html_response(pages.oauth_consent(state, query["redirect_uri"], query.get("state", "")))


async def oauth_pick(request: Request, state: SandboxState) -> Response:
    """The consent page's choice: back to hallq with a code (an empty openid: a snapshot user)."""
    query = request.query
    openid = query.get("openid", "")
    if openid and openid not in state.users:
        return html_response(pages.error_page("没有这个演示用户"), 404)
    snapshot = not openid
    if snapshot:
        openid = "o_snapshot_" + secrets.token_urlsafe(8)
    code = state.create_oauth_code(openid, snapshot=snapshot)
    redirect_uri = query.get("redirect_uri", "")
    separator = "&" if "?" in redirect_uri else "?"
    return redirect(
        f"{redirect_uri}{separator}{urlencode({'code': code, 'state': query.get('state', '')})}"
    )


async def qr_code(request: Request, state: SandboxState) -> Response:
    ticket = request.path.removeprefix("/q/")
    scene = state.qr_scene(ticket)
    if scene is None:
        status = 410 if ticket in state.qr_tickets else 404
        return html_response(pages.error_page("二维码已过期或不存在"), status)
    if request.method == "GET":
        return html_response(pages.qr_scan(state, ticket, scene))
    openid = request.form().get("openid", "")
    if openid not in state.users:
        return html_response(pages.error_page("没有这个演示用户"), 404)
    fields = events.scan_fields(state, openid, scene, ticket)
    [delivery] = await events.deliver(state, openid, fields)
    return html_response(pages.qr_scanned(state, openid, fields["Event"], delivery))


# The SMS vendors.


async def sms_send(request: Request, state: SandboxState) -> Response:
    if sms.is_aliyun(request):
        return await sms.aliyun_send(request, state)
    if sms.is_tencent(request):
        return await sms.tencent_send(request, state)
    return json_response({"errcode": 404, "errmsg": "unknown SMS action"}, 404)


# Control, for tests and the demo.


def bad_request(detail: str) -> Response:
    return json_response({"error": detail}, 400)


async def control_messages(request: Request, state: SandboxState) -> Response:
    to = request.query.get("openid") or request.query.get("mobile")
    channel = request.query.get("channel")
    messages = [
        message.as_json()
        for message in state.messages
        if (to is None or message.to == to) and (channel is None or message.channel == channel)
    ]
    return json_response({"messages": messages})


async def control_stats(request: Request, state: SandboxState) -> Response:
    return json_response(dict(sorted(state.stats.items())))


async def control_menu(request: Request, state: SandboxState) -> Response:
    return json_response({"button": state.menu})


async def control_fail(request: Request, state: SandboxState) -> Response:
    """{"errcode": 45009, "count": 3} or {"timeout_seconds": 6, "count": 1, "deliver": false};
    "api" is send (default: template, subscribe and sms), template, subscribe, sms, qrcode or
    token; "sms_code" overrides the SMS vendors' error code."""
    body = request.json()
    if not isinstance(body, dict) or ("errcode" not in body and "timeout_seconds" not in body):
        return bad_request("give errcode or timeout_seconds")
    plan = FailurePlan(
        api=str(body.get("api", "send")),
        remaining=int(body.get("count", 1)),
        errcode=int(body["errcode"]) if "errcode" in body else None,
        timeout_seconds=float(body.get("timeout_seconds", 0)),
        deliver=bool(body.get("deliver", False)),
        sms_code=str(body.get("sms_code", "")),
    )
    state.failures.append(plan)
    return json_response({"ok": True})


async def control_reset(request: Request, state: SandboxState) -> Response:
    fresh = SandboxState(state.config)
    for name in SandboxState.__dataclass_fields__:
        setattr(state, name, getattr(fresh, name))
    return json_response({"ok": True})


async def control_advance(request: Request, state: SandboxState) -> Response:
    """{"seconds": n}: move the stand-in's clock on (tokens, OAuth codes and QR codes age)."""
    body = request.json()
    if not isinstance(body, dict) or not isinstance(body.get("seconds"), int | float):
        return bad_request("give seconds")
    state.clock_offset += float(body["seconds"])
    return json_response({"ok": True})


async def control_user(request: Request, state: SandboxState) -> Response:
    """{"openid": …, "follower": bool, "accepts_subscriptions": bool} (either or both)."""
    body = request.json()
    user = state.users.get(body.get("openid", "")) if isinstance(body, dict) else None
    if user is None:
        return bad_request("unknown openid")
    if "follower" in body:
        user.follower = bool(body["follower"])
    if "accepts_subscriptions" in body:
        user.accepts_subscriptions = bool(body["accepts_subscriptions"])
    return json_response({"ok": True})


async def control_scan(request: Request, state: SandboxState) -> Response:
    """{"openid": …, "ticket": …} scans a QR code made by /cgi-bin/qrcode/create;
    {"openid": …, "scene": …} one that never was (a forged scene). "repeat": n sends the same
    event n times, as WeChat retries."""
    body = request.json()
    if not isinstance(body, dict) or body.get("openid") not in state.users:
        return bad_request("unknown openid")
    ticket = str(body.get("ticket", ""))
    if ticket:
        scene = state.qr_scene(ticket)
        if scene is None:
            return json_response({"error": "QR code expired or unknown"}, 410)
    else:
        scene = str(body.get("scene", ""))
    fields = events.scan_fields(state, body["openid"], scene, ticket)
    return await _deliver(state, body["openid"], fields, body)


async def control_event(request: Request, state: SandboxState) -> Response:
    """{"openid": …, "event": "unsubscribe" | "subscribe" | …, "event_key": …} or
    {"openid": …, "text": …} (a text message with a MsgId); "repeat" as for /sandbox/scan."""
    body = request.json()
    if not isinstance(body, dict) or body.get("openid") not in state.users:
        return bad_request("unknown openid")
    if "text" in body:
        fields = {"MsgType": "text", "Content": str(body["text"]), "MsgId": str(state.next_id())}
    elif body.get("event"):
        fields = {"MsgType": "event", "Event": str(body["event"])}
        if body.get("event_key"):
            fields["EventKey"] = str(body["event_key"])
    else:
        return bad_request("give event or text")
    return await _deliver(state, body["openid"], fields, body)


async def _deliver(
    state: SandboxState, openid: str, fields: dict[str, str], body: dict[str, Any]
) -> Response:
    deliveries = await events.deliver(state, openid, fields, repeat=int(body.get("repeat", 1)))
    return json_response(
        {
            "event": fields.get("Event", fields["MsgType"]),
            "event_key": fields.get("EventKey", ""),
            "status": deliveries[0].status,
            "reply": deliveries[0].reply,
            "deliveries": [delivery.as_json() for delivery in deliveries],
        }
    )
