"""WeChat's API as the stand-in answers it: the calls hallq makes, their checks and errcodes
(research notes §2, §10), and the failures tests ask for."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from hallq.wechat.sandbox.http import Request, Response, json_response
from hallq.wechat.sandbox.state import (
    QR_DEFAULT_SECONDS,
    QR_MAX_SECONDS,
    TOKEN_LIFETIME_SECONDS,
    SandboxState,
)

ERRMSGS = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40163: "code been used",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit",
    47001: "data format error",
    47003: "argument invalid!",
}
TEMPLATE_VALUE_MAX = 20
# Subscription message field limits by the key's type prefix (thing2, character_string1, …).
SUBSCRIBE_VALUE_MAX = {
    "thing": 20,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "phrase": 5,
    "name": 10,
    "amount": 32,
    "time": 32,
    "date": 32,
}


def error(errcode: int, detail: str = "") -> Response:
    message = ERRMSGS.get(errcode, "error")
    return json_response({"errcode": errcode, "errmsg": f"{message}{detail}"})


def ok(**fields: Any) -> Response:
    return json_response({"errcode": 0, "errmsg": "ok", **fields})


def authorized(request: Request, state: SandboxState) -> Response | None:
    errcode = state.token_error(request.query.get("access_token", ""))
    return error(errcode) if errcode else None


async def injected_failure(state: SandboxState, api: str) -> Response | None:
    """The failure a test asked for, if one is due; None when the call should go through."""
    plan = state.take_failure(api)
    if plan is None:
        return None
    if plan.timeout_seconds:
        await asyncio.sleep(plan.timeout_seconds)
        return None if plan.deliver else error(-1)
    return error(plan.errcode if plan.errcode is not None else -1)


def template_values(data: Any) -> dict[str, str] | None:
    if not isinstance(data, dict):
        return None
    values: dict[str, str] = {}
    for key, field in data.items():
        if not isinstance(field, dict) or not isinstance(field.get("value"), str):
            return None
        values[str(key)] = field["value"]
    return values


def credentials_error(appid: str, secret: str, state: SandboxState) -> Response | None:
    if appid != state.config.app_id:
        return error(40013)
    if secret != state.config.app_secret:
        return error(40125)
    return None


async def token(request: Request, state: SandboxState) -> Response:
    """GET /cgi-bin/token: every call issues a new token and invalidates the others."""
    query = request.query
    refused = credentials_error(query.get("appid", ""), query.get("secret", ""), state)
    if refused:
        return refused
    issued = state.issue_token(revoke_others=True)
    return json_response({"access_token": issued, "expires_in": TOKEN_LIFETIME_SECONDS})


async def stable_token(request: Request, state: SandboxState) -> Response:
    """POST /cgi-bin/stable_token: the same token until it expires or a forced refresh."""
    body = request.json()
    if not isinstance(body, dict) or body.get("grant_type") != "client_credential":
        return error(47001)
    refused = credentials_error(str(body.get("appid")), str(body.get("secret")), state)
    if refused:
        return refused
    state.count("stable_token_requests")
    failed = await injected_failure(state, "token")
    if failed:
        return failed
    issued = state.current_stable_token(force_refresh=bool(body.get("force_refresh")))
    return json_response({"access_token": issued, "expires_in": state.seconds_left(issued)})


async def send_template(request: Request, state: SandboxState) -> Response:
    refused = authorized(request, state) or await injected_failure(state, "template")
    if refused:
        return refused
    body = request.json()
    if not isinstance(body, dict):
        return error(47001)
    if not body.get("template_id"):
        return error(40037)
    user = state.users.get(str(body.get("touser", "")))
    if user is None:
        return error(40003)
    if not user.follower:
        return error(43004)
    values = template_values(body.get("data"))
    if values is None:
        return error(47001)
    for key, value in values.items():
        if len(value) > TEMPLATE_VALUE_MAX or "\n" in value:
            return error(47003, f" data.{key}.value exceeds limit")
    message = state.accept(
        channel="template",
        to=user.openid,
        template_id=str(body["template_id"]),
        data=values,
        link=str(body.get("url") or ""),
        dedup_key=str(body.get("client_msg_id") or ""),
    )
    return ok(msgid=int(message.vendor_id))


def subscribe_limit(key: str) -> int:
    kind = key.rstrip("0123456789")
    return SUBSCRIBE_VALUE_MAX.get(kind, 20)


async def send_subscribe(request: Request, state: SandboxState) -> Response:
    refused = authorized(request, state) or await injected_failure(state, "subscribe")
    if refused:
        return refused
    body = request.json()
    if not isinstance(body, dict):
        return error(47001)
    if not body.get("template_id"):
        return error(40037)
    user = state.users.get(str(body.get("touser", "")))
    if user is None:
        return error(40003)
    if not user.accepts_subscriptions:
        return error(43101)
    values = template_values(body.get("data"))
    if values is None:
        return error(47001)
    for key, value in values.items():
        if len(value) > subscribe_limit(key):
            return error(47003, f" data.{key}.value exceeds limit")
    state.accept(
        channel="subscribe",
        to=user.openid,
        template_id=str(body["template_id"]),
        data=values,
        link=str(body.get("page") or ""),
    )
    return ok()


async def create_qrcode(request: Request, state: SandboxState) -> Response:
    refused = authorized(request, state) or await injected_failure(state, "qrcode")
    if refused:
        return refused
    body = request.json()
    if not isinstance(body, dict) or body.get("action_name") != "QR_STR_SCENE":
        return error(47001, " (the stand-in makes QR_STR_SCENE codes only)")
    scene = body.get("action_info", {}).get("scene", {}).get("scene_str", "")
    if not isinstance(scene, str) or not 1 <= len(scene) <= 64:
        return error(47001, " scene_str")
    expire_seconds = min(int(body.get("expire_seconds") or QR_DEFAULT_SECONDS), QR_MAX_SECONDS)
    ticket = state.create_qr(scene, expire_seconds)
    return json_response(
        {
            "ticket": ticket,
            "expire_seconds": expire_seconds,
            "url": f"{request.base_url}/q/{ticket}",
        }
    )


async def jsapi_ticket(request: Request, state: SandboxState) -> Response:
    refused = authorized(request, state)
    if refused:
        return refused
    if request.query.get("type") != "jsapi":
        return error(47001, " type")
    ticket = state.current_jsapi_ticket()
    seconds = max(int(state.jsapi_ticket_expires_at - state.now()), 0)
    return ok(ticket=ticket, expires_in=seconds)


async def create_menu(request: Request, state: SandboxState) -> Response:
    refused = authorized(request, state)
    if refused:
        return refused
    body = request.json()
    buttons = body.get("button") if isinstance(body, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return error(47001, " button")
    state.menu = buttons
    state.count("menus_created")
    return ok()


async def oauth_access_token(request: Request, state: SandboxState) -> Response:
    """GET /sns/oauth2/access_token: a code is good once, for five minutes."""
    query = request.query
    refused = credentials_error(query.get("appid", ""), query.get("secret", ""), state)
    if refused:
        return refused
    if query.get("grant_type") != "authorization_code":
        return error(47001, " grant_type")
    code = state.oauth_codes.get(query.get("code", ""))
    if code is None or code.expires_at <= state.now():
        return error(40029)
    if code.used:
        return error(40163)
    code.used = True
    answer: dict[str, Any] = {
        "access_token": "sandbox_oauth_" + secrets.token_urlsafe(16),
        "expires_in": 7200,
        "refresh_token": "sandbox_refresh_" + secrets.token_urlsafe(16),
        "openid": code.openid,
        "scope": "snsapi_base",
    }
    if code.snapshot:
        answer["is_snapshotuser"] = 1
    return json_response(answer)
