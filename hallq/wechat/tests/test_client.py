"""The client against the stand-in served for real: messages, QR codes, OAuth, the menu, and
the shared access token (fetched once, refreshed once when rejected, under a lock)."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta

import httpx
import pytest
import redis
from django.core.exceptions import ImproperlyConfigured

from hallq.common import clock
from hallq.common.testing import race
from hallq.conftest import free_port
from hallq.wechat.client import (
    OAuthIdentity,
    WeChatError,
    WeChatUnavailable,
    get_client,
    wechat_configured,
)
from hallq.wechat.models import AccessToken
from hallq.wechat.tests.conftest import APP_ID, APP_SECRET

CALL = {"character_string1": "A012", "thing2": "不动产登记 3号窗口"}


def revoke_tokens(sandbox) -> None:
    """Someone calls /cgi-bin/token: every other token is revoked (40001)."""
    sandbox.get("/cgi-bin/token", grant_type="client_credential", appid=APP_ID, secret=APP_SECRET)


def send_call(client_msg_id: str = "hallq-1", openid: str = "o_demo_1") -> str:
    return get_client().send_template(
        openid=openid, template_id="tpl_call", data=CALL, client_msg_id=client_msg_id
    )


@pytest.mark.django_db
def test_a_template_message_arrives_with_its_fields_and_link(sandbox):
    msgid = get_client().send_template(
        openid="o_demo_1",
        template_id="tpl_call",
        data=CALL,
        url="http://hall.test/t/abc",
        client_msg_id="hallq-1",
    )
    [message] = sandbox.messages(openid="o_demo_1")
    assert (message["vendor_id"], message["template_id"], message["data"]) == (
        msgid,
        "tpl_call",
        CALL,
    )
    assert (message["link"], message["dedup_key"]) == ("http://hall.test/t/abc", "hallq-1")


@pytest.mark.django_db
def test_the_token_is_fetched_once_and_kept_in_the_database(sandbox):
    send_call("hallq-1")
    send_call("hallq-2")
    assert sandbox.stats()["stable_token_requests"] == 1
    row = AccessToken.objects.get(name=f"{APP_ID}:access_token")
    assert row.value.startswith("sandbox_at_")
    assert timedelta(seconds=7100) < row.expires_at - clock.now() <= timedelta(seconds=7200)


@pytest.mark.django_db
def test_a_repeated_client_msg_id_sends_one_message(sandbox):
    assert send_call("hallq-9") == send_call("hallq-9")
    assert len(sandbox.messages()) == 1


@pytest.mark.django_db
def test_wechats_errcodes_become_wechat_errors(sandbox):
    with pytest.raises(WeChatError) as not_follower:
        send_call(openid="o_demo_5")
    with pytest.raises(WeChatError) as unknown:
        send_call(openid="o_stranger")
    sandbox.post("/sandbox/fail", {"errcode": 45009})
    with pytest.raises(WeChatError) as quota:
        send_call()
    codes = (not_follower.value.errcode, unknown.value.errcode, quota.value.errcode)
    assert codes == (43004, 40003, 45009)
    assert quota.value.errmsg == "reach max api daily quota limit"
    assert not isinstance(quota.value, WeChatUnavailable)


@pytest.mark.django_db
def test_a_token_replaced_elsewhere_is_refreshed_and_the_call_retried(sandbox):
    send_call("hallq-1")
    revoke_tokens(sandbox)
    send_call("hallq-2")
    assert [m["dedup_key"] for m in sandbox.messages()] == ["hallq-1", "hallq-2"]
    assert sandbox.stats().get("forced_token_refreshes", 0) == 0


@pytest.mark.django_db
def test_an_expired_token_is_refreshed_and_the_call_retried(sandbox):
    send_call("hallq-1")
    before = AccessToken.objects.get().value
    sandbox.post("/sandbox/advance", {"seconds": 7200})
    send_call("hallq-2")
    assert len(sandbox.messages()) == 2
    assert AccessToken.objects.get().value != before


@pytest.mark.django_db
def test_a_rejected_token_still_handed_out_is_force_refreshed_once(sandbox):
    send_call("hallq-1")
    sandbox.post("/sandbox/fail", {"errcode": 40001, "api": "template"})
    send_call("hallq-2")
    assert sandbox.stats()["forced_token_refreshes"] == 1
    assert len(sandbox.messages()) == 2


@pytest.mark.django_db
def test_a_second_rejection_is_not_retried_again(sandbox):
    send_call("hallq-1")
    sandbox.post("/sandbox/fail", {"errcode": 42001, "api": "template", "count": 5})
    with pytest.raises(WeChatError) as rejected:
        send_call("hallq-2")
    assert rejected.value.errcode == 42001
    assert sandbox.stats()["failures_injected"] == 2


@pytest.mark.django_db
def test_a_timeout_is_unavailable_and_a_retry_after_it_sends_once(sandbox, settings):
    settings.WECHAT_TIMEOUT_SECONDS = 0.2
    send_call("hallq-0")
    # WeChat took the message but answered too late.
    sandbox.post("/sandbox/fail", {"timeout_seconds": 0.5, "deliver": True})
    with pytest.raises(WeChatUnavailable) as unavailable:
        send_call("hallq-1")
    assert (unavailable.value.errcode, unavailable.value.errmsg) == (-2, "timed out")
    assert unavailable.value.__cause__ is None
    # The late delivery lands; then the outbox retries with the same id.
    time.sleep(0.4)
    assert len(sandbox.messages()) == 2
    send_call("hallq-1")
    assert [m["dedup_key"] for m in sandbox.messages()] == ["hallq-0", "hallq-1"]


@pytest.mark.django_db
def test_an_unreachable_server_is_unavailable_without_the_token_in_the_error(settings):
    settings.WECHAT_APP_ID = APP_ID
    settings.WECHAT_APP_SECRET = "secret"
    settings.WECHAT_API_BASE = f"http://127.0.0.1:{free_port()}"
    settings.REDIS_URL = ""
    AccessToken.objects.create(
        name=f"{APP_ID}:access_token",
        value="sandbox_at_secret_value",
        expires_at=clock.now() + timedelta(hours=1),
    )
    with pytest.raises(WeChatUnavailable) as unavailable:
        send_call()
    assert unavailable.value.errcode == -2
    assert "sandbox_at_secret_value" not in str(unavailable.value)
    assert unavailable.value.__cause__ is None


def test_without_an_app_id_and_secret_wechat_is_not_configured(settings):
    settings.WECHAT_APP_ID = ""
    assert not wechat_configured()
    with pytest.raises(ImproperlyConfigured):
        get_client()


@pytest.mark.django_db
def test_a_subscription_message_needs_acceptance(sandbox):
    get_client().send_subscribe(
        openid="o_demo_5", template_id="sub_call", data={"thing1": "3号窗口"}, page="/t/1"
    )
    sandbox.post("/sandbox/user", {"openid": "o_demo_5", "accepts_subscriptions": False})
    with pytest.raises(WeChatError) as refused:
        get_client().send_subscribe(openid="o_demo_5", template_id="sub_call", data={})
    assert refused.value.errcode == 43101
    [message] = sandbox.messages(openid="o_demo_5")
    assert (message["channel"], message["data"], message["link"]) == (
        "subscribe",
        {"thing1": "3号窗口"},
        "/t/1",
    )


@pytest.mark.django_db
def test_a_qr_code_carries_its_scene_and_expiry(sandbox, callback_receiver):
    before = clock.now()
    qr = get_client().create_qr(scene="t.token-of-the-ticket", expire_seconds=900)
    assert qr.url == f"{sandbox.url}/q/{qr.ticket}"
    assert before + timedelta(seconds=900) <= qr.expires_at <= clock.now() + timedelta(seconds=900)
    sandbox.post("/sandbox/scan", {"openid": "o_demo_1", "ticket": qr.ticket})
    [callback] = callback_receiver.received
    assert callback.message is not None
    assert callback.message["EventKey"] == "t.token-of-the-ticket"
    with pytest.raises(ValueError, match="1 to 64"):
        get_client().create_qr(scene="x" * 65, expire_seconds=60)


@pytest.mark.django_db
def test_the_menu_is_created(sandbox):
    menu = [{"type": "view", "name": "排队进度", "url": "http://hall.test/progress/"}]
    get_client().create_menu(menu)
    assert sandbox.get("/sandbox/menu") == {"button": menu}


@pytest.mark.django_db
def test_the_jsapi_ticket_is_cached(sandbox):
    first = get_client().jsapi_ticket()
    assert get_client().jsapi_ticket() == first
    assert first.startswith("sandbox_jt_")
    assert sandbox.stats()["jsapi_tickets_issued"] == 1


def test_the_oauth_url_asks_for_the_openid_only(sandbox):
    url = get_client().oauth_authorize_url(
        redirect_uri="http://hall.test/oauth?next=/me/", state="s1"
    )
    assert url == (
        f"{sandbox.url}/connect/oauth2/authorize?appid={APP_ID}"
        "&redirect_uri=http%3A%2F%2Fhall.test%2Foauth%3Fnext%3D%2Fme%2F"
        "&response_type=code&scope=snsapi_base&state=s1#wechat_redirect"
    )


def oauth_code(sandbox, choice: int) -> str:
    url = get_client().oauth_authorize_url(redirect_uri="http://hall.test/oauth", state="s1")
    page = sandbox.http.get(url).text
    links = re.findall(r'href="(/connect/oauth2/pick\?[^"]+)"', page)
    picked = sandbox.http.get(links[choice].replace("&amp;", "&"))
    return httpx.URL(picked.headers["location"]).params["code"]


def test_an_oauth_code_names_the_user_once(sandbox):
    code = oauth_code(sandbox, 0)
    assert get_client().oauth_exchange(code=code) == OAuthIdentity("o_demo_1", False)
    with pytest.raises(WeChatError) as used:
        get_client().oauth_exchange(code=code)
    assert used.value.errcode == 40163


def test_a_snapshot_page_visitor_is_marked(sandbox):
    identity = get_client().oauth_exchange(code=oauth_code(sandbox, -1))
    assert identity.is_snapshot_user
    assert identity.openid.startswith("o_snapshot_")


def test_an_oauth_code_expires_after_five_minutes(sandbox):
    code = oauth_code(sandbox, 1)
    sandbox.post("/sandbox/advance", {"seconds": 301})
    with pytest.raises(WeChatError) as expired:
        get_client().oauth_exchange(code=code)
    assert expired.value.errcode == 40029


@pytest.fixture(params=["database", "redis"])
def token_store(request, settings):
    if request.param == "redis":
        url = "redis://127.0.0.1:6379/0"
        try:
            redis.Redis.from_url(url).ping()
        except redis.ConnectionError:
            pytest.skip("Redis is not running")
        prefix = f"test-{uuid.uuid4().hex}"
        settings.REDIS_URL = url
        settings.HALLQ_REDIS_PREFIX = prefix
        yield request.param
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        return
    yield request.param


@pytest.mark.django_db(transaction=True)
def test_eight_workers_starting_together_fetch_the_token_once(sandbox, token_store):
    race(8, lambda index: send_call(f"hallq-{index}"))
    assert sandbox.stats()["stable_token_requests"] == 1
    assert len(sandbox.messages()) == 8


@pytest.mark.django_db(transaction=True)
def test_eight_workers_with_a_revoked_token_refresh_it_once(sandbox, token_store):
    send_call("hallq-first")
    revoke_tokens(sandbox)
    race(8, lambda index: send_call(f"hallq-{index}"))
    assert sandbox.stats()["stable_token_requests"] == 2
    assert sandbox.stats().get("forced_token_refreshes", 0) == 0
    assert len(sandbox.messages()) == 9
