"""The official account's HTTP endpoints outside the REST API: WeChat's server callback and the
OAuth round trip of the H5 pages (§6)."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseRedirect,
)
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from hallq.common import clock
from hallq.officialaccount.callback import callback_message_handle
from hallq.officialaccount.proofs import openid_proof
from hallq.wechat.client import WeChatError, get_client, wechat_configured
from hallq.wechat.protocol import (
    MAX_CALLBACK_BYTES,
    CallbackRefused,
    check_signature,
    parse_callback,
    reply_text,
)

logger = logging.getLogger(__name__)

REFUSAL_STATUS = {
    "signature": 403,
    "stale": 403,
    "decrypt": 403,
    "too_large": 413,
    "entities": 400,
    "malformed": 400,
}
STATE_COOKIE = "hallq_wechat_oauth_state"
STATE_LIFETIME_SECONDS = 600


@csrf_exempt
@require_http_methods(["GET", "POST"])
def callback(request: HttpRequest) -> HttpResponse:
    """WeChat's server callback: GET is the URL check (echo ``echostr`` when signed with our
    token); POST delivers a message or event, plain or encrypted (safe mode)."""
    params = request.GET
    if request.method == "GET":
        signed = check_signature(
            settings.WECHAT_TOKEN,
            params.get("timestamp", ""),
            params.get("nonce", ""),
            params.get("signature", ""),
        )
        if not signed:
            return HttpResponseForbidden()
        return HttpResponse(params.get("echostr", ""), content_type="text/plain")
    if _declared_length(request) > MAX_CALLBACK_BYTES:
        return HttpResponse(status=413)
    now = clock.now()
    try:
        message = parse_callback(request.body, params=params, now=now)
    except CallbackRefused as refused:
        logger.warning("WeChat callback refused: %s", refused.reason)
        return HttpResponse(status=REFUSAL_STATUS.get(refused.reason, 400))
    reply = callback_message_handle(message=message, now=now)
    if reply is None:
        # What WeChat expects when there is nothing to say.
        return HttpResponse("success", content_type="text/plain")
    xml = reply_text(
        message.get("FromUserName", ""),
        reply,
        encrypted=bool(settings.WECHAT_AES_KEY),
        nonce=params.get("nonce", ""),
        timestamp=int(now.timestamp()),
        from_account=message.get("ToUserName", ""),
    )
    return HttpResponse(xml, content_type="application/xml; charset=utf-8")


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return MAX_CALLBACK_BYTES + 1


def _safe_next(request: HttpRequest) -> str:
    """Where to return after OAuth: a page of this site only (no open redirect), no fragment."""
    target = request.GET.get("next", "").split("#", 1)[0]
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else "/"


@require_GET
def oauth_start(request: HttpRequest) -> HttpResponse:
    """Send the visitor to WeChat's silent authorisation (snsapi_base); WeChat returns them to
    ``oauth_callback`` with a code, then they go back to ``next``."""
    if not wechat_configured():
        raise Http404
    state = secrets.token_urlsafe(16)
    back = (
        reverse("officialaccount:oauth-callback") + "?" + urlencode({"next": _safe_next(request)})
    )
    redirect_uri = (
        settings.PUBLIC_URL + back if settings.PUBLIC_URL else request.build_absolute_uri(back)
    )
    response = HttpResponseRedirect(
        get_client().oauth_authorize_url(redirect_uri=redirect_uri, state=state)
    )
    # The state ties WeChat's answer to this browser: a code pushed by someone else is refused.
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=STATE_LIFETIME_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response


@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Exchange WeChat's code for the visitor's openid and return to ``next`` with the openid
    proof in the fragment (``#wechat_proof=…``: a fragment never reaches a server or its logs).
    A snapshot-page visitor returns with ``#wechat=snapshot`` and no proof; a failure with
    ``#wechat=failed``."""
    if not wechat_configured():
        raise Http404
    state = request.GET.get("state", "")
    expected = request.COOKIES.get(STATE_COOKIE, "")
    if not state or not expected or not secrets.compare_digest(state.encode(), expected.encode()):
        return HttpResponseForbidden()
    code = request.GET.get("code", "")
    if not code:
        return HttpResponseBadRequest()
    target = _safe_next(request)
    try:
        identity = get_client().oauth_exchange(code=code)
    except WeChatError as error:
        logger.warning("WeChat OAuth code exchange failed: %s", error.errcode)
        fragment = urlencode({"wechat": "failed"})
    else:
        if identity.is_snapshot_user:
            fragment = urlencode({"wechat": "snapshot"})
        else:
            fragment = urlencode({"wechat_proof": openid_proof(identity.openid)})
    response = HttpResponseRedirect(f"{target}#{fragment}")
    response.delete_cookie(STATE_COOKIE)
    return response
