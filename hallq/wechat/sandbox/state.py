"""The stand-in's memory: demo users, tokens, QR codes, OAuth codes, messages received, and the
failures it was told to inject. One process, one event loop: no locks needed."""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

TOKEN_LIFETIME_SECONDS = 7200
OAUTH_CODE_SECONDS = 300
QR_DEFAULT_SECONDS = 60
QR_MAX_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    app_id: str
    app_secret: str
    # Signs (and, with an AES key, encrypts) the events sent to our callback.
    token: str
    aes_key: str
    callback_url: str
    # The official account's original id: the ToUserName of every event.
    account_id: str = "gh_sandbox0001"
    # When set, SMS requests must be signed with this access key id.
    sms_access_key_id: str = ""


@dataclass(slots=True)
class DemoUser:
    openid: str
    nickname: str
    follower: bool
    accepts_subscriptions: bool = True


def demo_users() -> dict[str, DemoUser]:
    users = [
        DemoUser("o_demo_1", "张晓梅", follower=True),
        DemoUser("o_demo_2", "李建国", follower=True),
        DemoUser("o_demo_3", "王芳", follower=True),
        DemoUser("o_demo_4", "陈志强", follower=True),
        DemoUser("o_demo_5", "刘洋", follower=False),
    ]
    return {user.openid: user for user in users}


@dataclass(slots=True)
class IssuedToken:
    expires_at: float
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class QrTicket:
    scene: str
    expires_at: float


@dataclass(slots=True)
class OAuthCode:
    openid: str
    snapshot: bool
    expires_at: float
    used: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    """A message a user (openid) or a mobile received."""

    id: int
    channel: str  # template | subscribe | sms
    to: str
    template_id: str
    data: dict[str, str]
    link: str
    dedup_key: str
    vendor_id: str  # msgid, BizId or SerialNo
    sent_at: float
    sign_name: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "to": self.to,
            "template_id": self.template_id,
            "data": self.data,
            "link": self.link,
            "dedup_key": self.dedup_key,
            "vendor_id": self.vendor_id,
            "sent_at": self.sent_at,
            "sign_name": self.sign_name,
        }


@dataclass(slots=True)
class FailurePlan:
    """The next ``remaining`` calls of ``api`` fail with ``errcode``, or hang for
    ``timeout_seconds`` (and then, unless ``deliver``, fail with -1)."""

    api: str  # send (template, subscribe and sms) | template | subscribe | sms | qrcode | token
    remaining: int
    errcode: int | None = None
    timeout_seconds: float = 0.0
    deliver: bool = False
    sms_code: str = ""

    def matches(self, api: str) -> bool:
        sends = {"template", "subscribe", "sms"}
        return self.remaining > 0 and (self.api == api or (self.api == "send" and api in sends))


@dataclass
class SandboxState:
    config: SandboxConfig
    users: dict[str, DemoUser] = field(default_factory=demo_users)
    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    stable_token: str = ""
    jsapi_ticket: str = ""
    jsapi_ticket_expires_at: float = 0.0
    qr_tickets: dict[str, QrTicket] = field(default_factory=dict)
    oauth_codes: dict[str, OAuthCode] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    # (recipient, client_msg_id or out_id) → the message first accepted with it.
    delivered: dict[tuple[str, str], Message] = field(default_factory=dict)
    failures: list[FailurePlan] = field(default_factory=list)
    menu: list[Any] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    # Moved forward by /sandbox/advance, to expire tokens, codes and QR codes in tests.
    clock_offset: float = 0.0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def now(self) -> float:
        return time.time() + self.clock_offset

    def count(self, name: str, by: int = 1) -> None:
        self.stats[name] = self.stats.get(name, 0) + by

    def next_id(self) -> int:
        return next(self._ids)

    # Access tokens: /cgi-bin/token and a forced stable_token replace every other token.

    def issue_token(self, *, revoke_others: bool) -> str:
        if revoke_others:
            for issued in self.tokens.values():
                issued.revoked = True
        token = "sandbox_at_" + secrets.token_urlsafe(24)
        self.tokens[token] = IssuedToken(expires_at=self.now() + TOKEN_LIFETIME_SECONDS)
        self.count("tokens_issued")
        return token

    def current_stable_token(self, *, force_refresh: bool) -> str:
        current = self.tokens.get(self.stable_token)
        usable = current is not None and not current.revoked and current.expires_at > self.now()
        if force_refresh or not usable:
            self.stable_token = self.issue_token(revoke_others=force_refresh)
        if force_refresh:
            self.count("forced_token_refreshes")
        return self.stable_token

    def token_error(self, token: str) -> int:
        """0 if ``token`` may call the API, else WeChat's errcode."""
        if not token:
            return 41001
        issued = self.tokens.get(token)
        if issued is None or issued.revoked:
            return 40001
        if issued.expires_at <= self.now():
            return 42001
        return 0

    def seconds_left(self, token: str) -> int:
        return max(int(self.tokens[token].expires_at - self.now()), 0)

    def current_jsapi_ticket(self) -> str:
        if not self.jsapi_ticket or self.jsapi_ticket_expires_at <= self.now():
            self.jsapi_ticket = "sandbox_jt_" + secrets.token_urlsafe(24)
            self.jsapi_ticket_expires_at = self.now() + TOKEN_LIFETIME_SECONDS
            self.count("jsapi_tickets_issued")
        return self.jsapi_ticket

    # Injected failures.

    def take_failure(self, api: str) -> FailurePlan | None:
        for plan in self.failures:
            if plan.matches(api):
                plan.remaining -= 1
                self.count("failures_injected")
                return plan
        return None

    # Messages.

    def accept(
        self,
        *,
        channel: str,
        to: str,
        template_id: str,
        data: dict[str, str],
        link: str = "",
        dedup_key: str = "",
        sign_name: str = "",
    ) -> Message:
        """Record a message; a repeated dedup key returns the first one and records nothing."""
        if dedup_key and (to, dedup_key) in self.delivered:
            self.count("duplicates_ignored")
            return self.delivered[(to, dedup_key)]
        message_id = self.next_id()
        message = Message(
            id=message_id,
            channel=channel,
            to=to,
            template_id=template_id,
            data=data,
            link=link,
            dedup_key=dedup_key,
            vendor_id=str(2_000_000_000 + message_id),
            sent_at=self.now(),
            sign_name=sign_name,
        )
        self.messages.append(message)
        if dedup_key:
            self.delivered[(to, dedup_key)] = message
        self.count(f"{channel}_sent")
        return message

    def received_by(self, to: str) -> list[Message]:
        return [message for message in self.messages if message.to == to]

    # QR codes and OAuth codes.

    def create_qr(self, scene: str, expire_seconds: int) -> str:
        ticket = "sandbox_qr_" + secrets.token_urlsafe(24)
        self.qr_tickets[ticket] = QrTicket(scene=scene, expires_at=self.now() + expire_seconds)
        self.count("qrcodes_created")
        return ticket

    def qr_scene(self, ticket: str) -> str | None:
        """The scene of a live QR code; None if unknown or expired."""
        qr = self.qr_tickets.get(ticket)
        if qr is None or qr.expires_at <= self.now():
            return None
        return qr.scene

    def create_oauth_code(self, openid: str, *, snapshot: bool) -> str:
        code = secrets.token_urlsafe(24)
        self.oauth_codes[code] = OAuthCode(
            openid=openid, snapshot=snapshot, expires_at=self.now() + OAUTH_CODE_SECONDS
        )
        return code
