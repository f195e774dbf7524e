"""The stand-in's pages, in Chinese and phone-sized: the OAuth consent, "scanning" a QR code,
and the phone view of the messages each demo user (or mobile number) received."""

from __future__ import annotations

from datetime import datetime
from html import escape
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from hallq.wechat.sandbox.events import Delivery
from hallq.wechat.sandbox.state import Message, SandboxState

CHINA = ZoneInfo("Asia/Shanghai")
CARDS_SHOWN = 50
# The default template ids (config/settings.py) name the notification kind.
TITLES = {
    "booking_confirmed": "预约成功通知",
    "booking_cancelled": "预约取消通知",
    "booking_reminder": "预约办事提醒",
    "pre_call": "即将叫号提醒",
    "call": "叫号通知",
    "recall": "再次叫号通知",
    "no_show": "过号通知",
    "appointment_no_show": "预约未到通知",
    "blacklisted": "预约限制通知",
    "evaluation": "服务评价邀请",
}

STYLE = """
* { box-sizing: border-box; }
body { margin: 0; background: #ededed; color: #191919; font: 15px/1.5 -apple-system,
  "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; }
.phone { max-width: 420px; min-height: 100vh; margin: 0 auto; background: #ededed; }
header { background: #07c160; color: #fff; padding: 12px 16px; font-size: 17px; }
header a { color: #fff; text-decoration: none; margin-right: 8px; }
main { padding: 12px; }
.card { background: #fff; border-radius: 8px; padding: 14px 16px; margin-bottom: 12px; }
.card h2 { font-size: 17px; margin: 0 0 2px; }
.time { color: #888; font-size: 13px; margin-bottom: 8px; }
.row { display: flex; gap: 12px; }
.row .key { color: #888; min-width: 6em; }
.more { display: block; border-top: 1px solid #eee; margin-top: 10px; padding-top: 8px;
  color: #576b95; text-decoration: none; }
.empty { color: #888; text-align: center; padding: 40px 0; }
.user { display: flex; justify-content: space-between; align-items: center; width: 100%;
  background: #fff; border: 0; border-radius: 8px; padding: 14px 16px; margin-bottom: 10px;
  font: inherit; color: inherit; text-decoration: none; text-align: left; cursor: pointer; }
.tag { color: #888; font-size: 13px; }
.reply { background: #95ec69; border-radius: 6px; padding: 10px 12px; margin: 12px 0; }
.note { color: #888; font-size: 13px; }
"""


def page(title: str, body: str, *, back: str = "") -> str:
    link = f'<a href="{escape(back)}">‹</a>' if back else ""
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f'<body><div class="phone"><header>{link}{escape(title)}</header>'
        f"<main>{body}</main></div></body></html>"
    )


def error_page(text: str) -> str:
    return page("微信", f'<p class="empty">{escape(text)}</p>')


def user_label(state: SandboxState, openid: str) -> str:
    user = state.users[openid]
    tag = "已关注" if user.follower else "未关注"
    return f'<span>{escape(user.nickname)}</span><span class="tag">{openid} · {tag}</span>'


def title_of(message: Message) -> str:
    if message.channel == "sms":
        return f"【{message.sign_name}】短信" if message.sign_name else "短信"
    kind = message.template_id.removeprefix("tpl_").removeprefix("sub_")
    return TITLES.get(kind, "服务通知")


def card(message: Message) -> str:
    sent = datetime.fromtimestamp(message.sent_at, CHINA).strftime("%m月%d日 %H:%M:%S")
    source = {"template": "模板消息", "subscribe": "订阅通知", "sms": "短信"}[message.channel]
    rows = "".join(
        f'<div class="row"><span class="key">{escape(key)}</span><span>{escape(value)}</span></div>'
        for key, value in message.data.items()
    )
    more = f'<a class="more" href="{escape(message.link)}">详情 ›</a>' if message.link else ""
    return (
        f'<section class="card" data-message-id="{message.id}"><h2>{escape(title_of(message))}</h2>'
        f'<div class="time">{sent} · {source} · {escape(message.template_id)}</div>'
        f"{rows}{more}</section>"
    )


def cards(messages: list[Message]) -> str:
    if not messages:
        return '<p class="empty">暂无消息</p>'
    return "".join(card(message) for message in reversed(messages[-CARDS_SHOWN:]))


def live_cards(messages: list[Message]) -> str:
    """The newest first, refreshed every second from the same URL with ``?cards=1``."""
    script = (
        "<script>let last=null;const box=document.getElementById('cards');"
        "setInterval(async()=>{try{const r=await fetch(location.pathname+'?cards=1');"
        "const t=await r.text();if(t!==last){last=t;box.innerHTML=t;}}catch(e){}},1000);"
        "</script>"
    )
    return f'<div id="cards">{cards(messages)}</div>{script}'


def phone_index(state: SandboxState) -> str:
    users = "".join(
        f'<a class="user" href="/phone/{openid}">{user_label(state, openid)}</a>'
        for openid in state.users
    )
    mobiles = sorted({message.to for message in state.messages if message.channel == "sms"})
    sms = "".join(
        f'<a class="user" href="/phone/sms/{mobile}"><span>{mobile}</span>'
        '<span class="tag">短信</span></a>'
        for mobile in mobiles
    )
    return page("演示手机", users + sms)


def phone_user(state: SandboxState, openid: str) -> str:
    user = state.users[openid]
    return page(
        f"{user.nickname} · 服务通知", live_cards(state.received_by(openid)), back="/phone/"
    )


def phone_sms(state: SandboxState, mobile: str) -> str:
    return page(f"{mobile} · 短信", live_cards(state.received_by(mobile)), back="/phone/")


def oauth_consent(state: SandboxState, redirect_uri: str, oauth_state: str) -> str:
    def choice(openid: str, label: str) -> str:
        query = urlencode({"openid": openid, "redirect_uri": redirect_uri, "state": oauth_state})
        return f'<a class="user" href="/connect/oauth2/pick?{escape(query)}">{label}</a>'

    users = "".join(choice(openid, user_label(state, openid)) for openid in state.users)
    snapshot = choice(
        "", '<span>快照页用户</span><span class="tag">is_snapshotuser=1 · 虚拟 openid</span>'
    )
    note = '<p class="note">模拟微信网页授权（snsapi_base）：选择以哪个微信用户身份打开页面。</p>'
    return page("微信授权", note + users + snapshot)


def qr_scan(state: SandboxState, ticket: str, scene: str) -> str:
    buttons = "".join(
        '<form method="post"><input type="hidden" name="openid" '
        f'value="{openid}"><button class="user" type="submit">{user_label(state, openid)}'
        "</button></form>"
        for openid in state.users
    )
    note = (
        '<p class="note">模拟用微信扫描这个二维码：选择扫码的微信用户。'
        f"未关注的用户扫码即关注公众号。场景值：{escape(scene)}</p>"
    )
    return page("扫一扫", note + buttons)


def qr_scanned(state: SandboxState, openid: str, event: str, delivery: Delivery) -> str:
    user = state.users[openid]
    if delivery.status != 200:
        outcome = f'<p class="note">公众号服务器没有正常应答（HTTP {delivery.status}）。</p>'
    elif delivery.reply:
        outcome = f'<div class="reply">{escape(delivery.reply)}</div>'
    else:
        outcome = '<p class="note">公众号没有回复消息。</p>'
    body = (
        f'<p class="note">{escape(user.nickname)} 扫码，公众号收到 {escape(event)} 事件。</p>'
        f'{outcome}<a class="user" href="/phone/{openid}">'
        f"查看 {escape(user.nickname)} 的服务通知 ›</a>"
    )
    return page("公众号", body)


def index(state: SandboxState) -> str:
    config = state.config
    body = (
        '<p class="note">微信公众平台与短信网关的本地替身。</p>'
        f'<a class="user" href="/phone/">演示手机：各用户收到的消息 ›</a>'
        f'<p class="note">AppID {escape(config.app_id)} · 回调 {escape(config.callback_url)}'
        f" · {'安全模式' if config.aes_key else '明文模式'}</p>"
    )
    return page("微信替身", body)
