"""Calls to the official account's API (research notes §1, §2, §10).

Our own small client on ``requests`` rather than a subclass of wechatpy's ``WeChatClient``: the
subclass would have to replace its token fetching (hard-coded ``/cgi-bin/token``, no
``stable_token``), its token cache (per process, no lock), its retry (unbounded recursion while
WeChat keeps answering 40001), its error handling (timeouts escape as ``requests`` exceptions)
and its ``send_template`` (no ``client_msg_id``), which is all of it. wechatpy still does the
safe-mode cryptography (``protocol``).

Every call goes to ``WECHAT_API_BASE``, so the stand-in (``hallq.wechat.sandbox``) can take
WeChat's place. Errors never carry the access token (it travels in the URL).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from hallq.common import clock
from hallq.wechat.errors import WeChatError, WeChatUnavailable
from hallq.wechat.tokens import Credential, CredentialStore, credential_store, shared_credential

__all__ = [
    "OAuthIdentity",
    "QrCode",
    "WeChatError",
    "WeChatUnavailable",
    "WxClient",
    "get_client",
    "wechat_configured",
]

# 40001 invalid or not the latest token, 40014 invalid token, 42001 expired token: refresh the
# token once and try the call again.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
QR_SCENE_MAX_LENGTH = 64
QR_MAX_EXPIRE_SECONDS = 30 * 24 * 3600


def wechat_configured() -> bool:
    return bool(settings.WECHAT_APP_ID and settings.WECHAT_APP_SECRET)


@dataclass(frozen=True, slots=True)
class QrCode:
    ticket: str
    # What the QR code encodes (draw it ourselves; WeChat's image URL is not needed).
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OAuthIdentity:
    openid: str
    # A "snapshot page" visitor (is_snapshotuser=1): a virtual openid, never to be bound.
    is_snapshot_user: bool


_sessions = threading.local()


def _session() -> requests.Session:
    # A Session keeps connections alive; one per thread, as Sessions are not thread-safe.
    session: requests.Session | None = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
        # No .netrc or CA-bundle lookups from the environment on every call (a fifth of a
        # sending thread's time); proxies and certificates come from the settings, if ever.
        session.trust_env = False
    return session


def get_client() -> WxClient:
    if not wechat_configured():
        raise ImproperlyConfigured("WECHAT_APP_ID and WECHAT_APP_SECRET are not set")
    return WxClient(
        app_id=settings.WECHAT_APP_ID,
        app_secret=settings.WECHAT_APP_SECRET,
        api_base=settings.WECHAT_API_BASE,
        oauth_base=settings.WECHAT_OAUTH_BASE,
        timeout_seconds=settings.WECHAT_TIMEOUT_SECONDS,
        store=credential_store(),
    )


class WxClient:
    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        api_base: str,
        oauth_base: str,
        timeout_seconds: float,
        store: CredentialStore,
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.api_base = api_base.rstrip("/")
        self.oauth_base = oauth_base.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.store = store

    # Messages.

    def send_template(
        self,
        *,
        openid: str,
        template_id: str,
        data: Mapping[str, str],
        url: str | None = None,
        client_msg_id: str,
    ) -> str:
        """A template message to a follower; returns WeChat's msgid. WeChat sends a repeated
        ``client_msg_id`` only once, so a retry after a timeout cannot duplicate the message."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "client_msg_id": client_msg_id,
            "data": {key: {"value": value} for key, value in data.items()},
        }
        if url:
            body["url"] = url
        result = self._call("POST", "message/template/send", body=body)
        return str(result["msgid"])

    def send_subscribe(
        self,
        *,
        openid: str,
        template_id: str,
        data: Mapping[str, str],
        page: str | None = None,
    ) -> None:
        """A subscription message (订阅通知); 43101 if the citizen has not accepted it."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
        }
        if page:
            body["page"] = page
        self._call("POST", "message/subscribe/bizsend", body=body)

    # QR codes, menu, JS-SDK.

    def create_qr(self, *, scene: str, expire_seconds: int) -> QrCode:
        """A temporary QR code whose scan reports ``scene`` to the callback (QR_STR_SCENE)."""
        if not 1 <= len(scene) <= QR_SCENE_MAX_LENGTH:
            raise ValueError("a QR scene is 1 to 64 characters")
        if not 1 <= expire_seconds <= QR_MAX_EXPIRE_SECONDS:
            raise ValueError("a temporary QR code lives 1 s to 30 days")
        now = clock.now()
        result = self._call(
            "POST",
            "qrcode/create",
            body={
                "expire_seconds": expire_seconds,
                "action_name": "QR_STR_SCENE",
                "action_info": {"scene": {"scene_str": scene}},
            },
        )
        lifetime = int(result.get("expire_seconds", expire_seconds))
        return QrCode(
            ticket=str(result["ticket"]),
            url=str(result["url"]),
            expires_at=now + timedelta(seconds=lifetime),
        )

    def create_menu(self, menu: list[dict[str, Any]]) -> None:
        self._call("POST", "menu/create", body={"button": menu})

    def jsapi_ticket(self) -> str:
        return shared_credential(
            self.store,
            f"{self.app_id}:jsapi_ticket",
            fetch=self._fetch_jsapi_ticket,
            rejected=None,
            now=clock.now(),
        )

    # OAuth (snsapi_base: silent, the openid only).

    def oauth_authorize_url(self, *, redirect_uri: str, state: str) -> str:
        # WeChat requires this parameter order and the fragment.
        query = urlencode(
            [
                ("appid", self.app_id),
                ("redirect_uri", redirect_uri),
                ("response_type", "code"),
                ("scope", "snsapi_base"),
                ("state", state),
            ]
        )
        return f"{self.oauth_base}/connect/oauth2/authorize?{query}#wechat_redirect"

    def oauth_exchange(self, *, code: str) -> OAuthIdentity:
        """The visitor behind an OAuth code (single use, 5 minutes: 40163 used, 40029 invalid)."""
        result = self._request(
            "GET",
            f"{self.api_base}/sns/oauth2/access_token",
            params={
                "appid": self.app_id,
                "secret": self.app_secret,
                "code": code,
                "grant_type": "authorization_code",
            },
        )
        return OAuthIdentity(
            openid=str(result["openid"]),
            is_snapshot_user=int(result.get("is_snapshotuser", 0)) == 1,
        )

    # Plumbing.

    def _call(
        self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None
    ) -> dict[str, Any]:
        url = f"{self.api_base}/cgi-bin/{path}"
        token = self._access_token(rejected=None)
        try:
            return self._request(
                method, url, params={**(params or {}), "access_token": token}, body=body
            )
        except WeChatError as error:
            if error.errcode not in TOKEN_ERRCODES:
                raise
        # Once only: a second rejection of a fresh token is WeChat's problem, not the token's.
        token = self._access_token(rejected=token)
        return self._request(
            method, url, params={**(params or {}), "access_token": token}, body=body
        )

    def _access_token(self, *, rejected: str | None) -> str:
        return shared_credential(
            self.store,
            f"{self.app_id}:access_token",
            fetch=self._fetch_access_token,
            rejected=rejected,
            now=clock.now(),
        )

    def _fetch_access_token(self, rejected: str | None) -> Credential:
        now = clock.now()
        result = self._stable_token(force_refresh=False)
        if rejected is not None and result["access_token"] == rejected:
            # WeChat still hands out the token it rejected: only a forced refresh replaces it
            # (limited to 20 a day, which is why it is the last resort).
            result = self._stable_token(force_refresh=True)
        return Credential(
            value=str(result["access_token"]),
            expires_at=now + timedelta(seconds=int(result.get("expires_in", 7200))),
        )

    def _stable_token(self, *, force_refresh: bool) -> dict[str, Any]:
        # The stable token: repeated fetches return the same token, so processes never
        # invalidate each other's (unlike /cgi-bin/token).
        return self._request(
            "POST",
            f"{self.api_base}/cgi-bin/stable_token",
            body={
                "grant_type": "client_credential",
                "appid": self.app_id,
                "secret": self.app_secret,
                "force_refresh": force_refresh,
            },
        )

    def _fetch_jsapi_ticket(self, rejected: str | None) -> Credential:
        now = clock.now()
        result = self._call("GET", "ticket/getticket", params={"type": "jsapi"})
        return Credential(
            value=str(result["ticket"]),
            expires_at=now + timedelta(seconds=int(result.get("expires_in", 7200))),
        )

    def _request(
        self, method: str, url: str, *, params: dict[str, str] | None = None, body: Any = None
    ) -> dict[str, Any]:
        data = None
        headers: dict[str, str] = {}
        if body is not None:
            # WeChat counts characters, not \\u escapes: send the UTF-8 text itself.
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            response = _session().request(
                method, url, params=params, data=data, headers=headers, timeout=self.timeout_seconds
            )
        except requests.Timeout:
            raise WeChatUnavailable("timed out") from None
        except requests.RequestException as error:
            # Not chained: the exception's text holds the URL, and so the access token.
            raise WeChatUnavailable(f"{type(error).__name__}: no answer") from None
        if response.status_code != 200:
            raise WeChatUnavailable(f"HTTP {response.status_code}")
        try:
            result: dict[str, Any] = response.json()
        except ValueError:
            raise WeChatUnavailable("the answer is not JSON") from None
        errcode = int(result.get("errcode", 0))
        if errcode:
            raise WeChatError(errcode, str(result.get("errmsg", "")))
        return result
