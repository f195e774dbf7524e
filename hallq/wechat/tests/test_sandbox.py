"""The stand-in through real HTTP: WeChat's checks and errcodes, QR scans reaching the callback
signed (and encrypted), OAuth consent, the phone view, injected failures, the SMS vendors."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import pytest

from hallq.wechat import protocol
from hallq.wechat.tests.conftest import AES_KEY, APP_ID, APP_SECRET, TOKEN

SMS_KEY_ID = "test-sms-key"
CREDENTIALS = {"grant_type": "client_credential", "appid": APP_ID, "secret": APP_SECRET}


def stable_token(sandbox, force_refresh: bool = False) -> str:
    return sandbox.post("/cgi-bin/stable_token", {**CREDENTIALS, "force_refresh": force_refresh})[
        "access_token"
    ]


def send(sandbox, token: str, path: str = "/cgi-bin/message/template/send", **body) -> dict:
    payload = {"touser": "o_demo_1", "template_id": "tpl_call", "data": {}, **body}
    return sandbox.http.post(path, params={"access_token": token}, json=payload).json()


def errcode(answer: dict) -> int:
    return answer.get("errcode", 0)


def test_the_stable_token_is_the_same_until_a_forced_refresh_which_revokes_it(sandbox):
    first = stable_token(sandbox)
    assert stable_token(sandbox) == first
    forced = stable_token(sandbox, force_refresh=True)
    assert forced != first
    assert errcode(send(sandbox, first)) == 40001
    assert errcode(send(sandbox, forced)) == 0
    assert sandbox.stats()["forced_token_refreshes"] == 1


def test_the_plain_token_endpoint_revokes_every_other_token(sandbox):
    stable = stable_token(sandbox)
    plain = sandbox.get(
        "/cgi-bin/token", grant_type="client_credential", appid=APP_ID, secret=APP_SECRET
    )
    assert errcode(send(sandbox, stable)) == 40001
    assert errcode(send(sandbox, plain["access_token"])) == 0


def test_tokens_expire_and_a_new_stable_token_is_issued_after(sandbox):
    token = stable_token(sandbox)
    sandbox.post("/sandbox/advance", {"seconds": 7200})
    assert errcode(send(sandbox, token)) == 42001
    assert stable_token(sandbox) != token


def test_tokens_are_only_given_for_the_accounts_app_id_and_secret(sandbox):
    wrong_app = sandbox.post("/cgi-bin/stable_token", {**CREDENTIALS, "appid": "wx_other"})
    wrong_secret = sandbox.post("/cgi-bin/stable_token", {**CREDENTIALS, "secret": "guess"})
    assert (errcode(wrong_app), errcode(wrong_secret)) == (40013, 40125)
    assert errcode(send(sandbox, "")) == 41001


def test_a_template_message_is_checked_as_wechat_does(sandbox):
    token = stable_token(sandbox)
    long = {"thing1": {"value": "一二三四五六七八九十一二三四五六七八九十一"}}
    assert errcode(send(sandbox, token, template_id="")) == 40037
    assert errcode(send(sandbox, token, touser="o_stranger")) == 40003
    assert errcode(send(sandbox, token, touser="o_demo_5")) == 43004
    assert errcode(send(sandbox, token, data=long)) == 47003
    assert errcode(send(sandbox, token, data={"thing1": "no value object"})) == 47001
    assert sandbox.messages() == []


def test_a_repeated_client_msg_id_is_delivered_once(sandbox):
    token = stable_token(sandbox)
    data = {"character_string1": {"value": "A012"}, "thing2": {"value": "3号窗口"}}
    first = send(sandbox, token, data=data, client_msg_id="hallq-7", url="http://h/t/1")
    again = send(sandbox, token, data=data, client_msg_id="hallq-7")
    other = send(sandbox, token, data=data, client_msg_id="hallq-8")
    assert first["msgid"] == again["msgid"] != other["msgid"]
    messages = sandbox.messages(openid="o_demo_1")
    assert [(m["channel"], m["data"], m["dedup_key"]) for m in messages] == [
        ("template", {"character_string1": "A012", "thing2": "3号窗口"}, "hallq-7"),
        ("template", {"character_string1": "A012", "thing2": "3号窗口"}, "hallq-8"),
    ]
    assert messages[0]["link"] == "http://h/t/1"
    assert sandbox.stats()["duplicates_ignored"] == 1


def test_a_subscription_message_needs_the_users_acceptance_and_its_field_limits(sandbox):
    token = stable_token(sandbox)
    path = "/cgi-bin/message/subscribe/bizsend"
    ok = send(sandbox, token, path, touser="o_demo_5", data={"phrase1": {"value": "请到窗口"}})
    too_long = send(sandbox, token, path, data={"phrase1": {"value": "请到三号窗口"}})
    sandbox.post("/sandbox/user", {"openid": "o_demo_5", "accepts_subscriptions": False})
    refused = send(sandbox, token, path, touser="o_demo_5", data={})
    assert (errcode(ok), errcode(too_long), errcode(refused)) == (0, 47003, 43101)
    assert [m["channel"] for m in sandbox.messages(openid="o_demo_5")] == ["subscribe"]


def test_injected_errors_fail_the_next_sends_then_stop(sandbox):
    token = stable_token(sandbox)
    sandbox.post("/sandbox/fail", {"errcode": 45009, "count": 2})
    answers = [errcode(send(sandbox, token)) for _ in range(3)]
    assert answers == [45009, 45009, 0]
    assert sandbox.stats()["failures_injected"] == 2


def test_an_injected_hang_answers_late_and_delivers_only_when_told(sandbox):
    token = stable_token(sandbox)
    sandbox.post("/sandbox/fail", {"timeout_seconds": 0.3, "count": 1})
    sandbox.post("/sandbox/fail", {"timeout_seconds": 0.3, "count": 1, "deliver": True})
    started = time.monotonic()
    dropped = send(sandbox, token, client_msg_id="a")
    delivered = send(sandbox, token, client_msg_id="b")
    assert time.monotonic() - started >= 0.6
    assert (errcode(dropped), errcode(delivered)) == (-1, 0)
    assert [m["dedup_key"] for m in sandbox.messages()] == ["b"]


def test_a_qr_code_has_a_scene_an_expiry_and_a_scan_page(sandbox):
    token = stable_token(sandbox)
    created = sandbox.http.post(
        "/cgi-bin/qrcode/create",
        params={"access_token": token},
        json={
            "expire_seconds": 600,
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": "t.ticket-token"}},
        },
    ).json()
    assert created["expire_seconds"] == 600
    assert created["url"] == f"{sandbox.url}/q/{created['ticket']}"
    page = sandbox.http.get(created["url"])
    assert page.status_code == 200
    for text in ("扫一扫", "张晓梅", "t.ticket-token"):
        assert text in page.text
    sandbox.post("/sandbox/advance", {"seconds": 601})
    assert sandbox.http.get(created["url"]).status_code == 410
    assert sandbox.http.get("/q/never-made").status_code == 404


def make_qr(sandbox, scene: str = "t.ticket-token") -> str:
    token = stable_token(sandbox)
    return sandbox.http.post(
        "/cgi-bin/qrcode/create",
        params={"access_token": token},
        json={
            "expire_seconds": 60,
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        },
    ).json()["ticket"]


def test_a_non_follower_scanning_subscribes_with_the_scene_then_scans(sandbox, callback_receiver):
    callback_receiver.answer = lambda message: f"已绑定号票 {message['EventKey']}"
    ticket = make_qr(sandbox)
    first = sandbox.post("/sandbox/scan", {"openid": "o_demo_5", "ticket": ticket})
    second = sandbox.post("/sandbox/scan", {"openid": "o_demo_5", "ticket": ticket})
    assert (first["event"], first["status"], first["reply"]) == (
        "subscribe",
        200,
        "已绑定号票 qrscene_t.ticket-token",
    )
    assert (second["event"], second["reply"]) == ("SCAN", "已绑定号票 t.ticket-token")
    [subscribe, scan] = [callback.message for callback in callback_receiver.received]
    assert subscribe is not None
    assert scan is not None
    assert subscribe["Ticket"] == scan["Ticket"] == ticket
    assert (subscribe["FromUserName"], subscribe["ToUserName"], subscribe["MsgType"]) == (
        "o_demo_5",
        "gh_sandbox0001",
        "event",
    )
    assert callback_receiver.received[0].query["openid"] == "o_demo_5"
    # Now a follower: template messages reach them.
    assert errcode(send(sandbox, stable_token(sandbox), touser="o_demo_5")) == 0


def test_in_safe_mode_events_are_encrypted_and_the_encrypted_reply_is_read(
    sandbox, callback_receiver, settings
):
    settings.WECHAT_AES_KEY = AES_KEY
    sandbox.safe_mode()
    callback_receiver.answer = lambda message: "已绑定，叫号时通知您"
    answer = sandbox.post("/sandbox/scan", {"openid": "o_demo_1", "scene": "t.forged-or-not"})
    assert (answer["status"], answer["reply"]) == (200, "已绑定，叫号时通知您")
    [callback] = callback_receiver.received
    assert callback.query["encrypt_type"] == "aes"
    assert b"t.forged-or-not" not in callback.body
    assert callback.message is not None
    assert callback.message["EventKey"] == "t.forged-or-not"


def test_a_scan_page_post_shows_the_accounts_reply(sandbox, callback_receiver):
    callback_receiver.answer = lambda message: "号票 A012 已绑定"
    ticket = make_qr(sandbox)
    page = sandbox.http.post(f"/q/{ticket}", data={"openid": "o_demo_2"})
    assert page.status_code == 200
    assert "号票 A012 已绑定" in page.text
    assert "SCAN" in page.text


def test_repeated_events_are_sent_identically_as_wechat_retries(sandbox, callback_receiver):
    answer = sandbox.post("/sandbox/event", {"openid": "o_demo_1", "text": "进度", "repeat": 3})
    assert [d["status"] for d in answer["deliveries"]] == [200, 200, 200]
    bodies = {callback.body for callback in callback_receiver.received}
    queries = {json.dumps(callback.query) for callback in callback_receiver.received}
    assert (len(callback_receiver.received), len(bodies), len(queries)) == (3, 1, 1)
    message = callback_receiver.received[0].message
    assert message is not None
    assert (message["MsgType"], message["Content"]) == ("text", "进度")
    assert message["MsgId"]


def test_an_unsubscribe_event_makes_the_user_a_non_follower(sandbox, callback_receiver):
    answer = sandbox.post("/sandbox/event", {"openid": "o_demo_1", "event": "unsubscribe"})
    assert (answer["event"], answer["reply"]) == ("unsubscribe", None)
    assert errcode(send(sandbox, stable_token(sandbox))) == 43004


def test_oauth_consent_redirects_with_a_single_use_code(sandbox):
    page = sandbox.http.get(
        "/connect/oauth2/authorize",
        params={
            "appid": APP_ID,
            "redirect_uri": "http://hall.test/oauth/back?next=/me/",
            "response_type": "code",
            "scope": "snsapi_base",
            "state": "s123",
        },
    )
    assert page.status_code == 200
    assert "李建国" in page.text
    assert "快照页用户" in page.text
    links = re.findall(r'href="(/connect/oauth2/pick\?[^"]+)"', page.text)
    assert len(links) == 6
    picked = sandbox.http.get(links[1].replace("&amp;", "&"))
    assert picked.status_code == 302
    location = httpx.URL(picked.headers["location"])
    assert (location.host, location.path, location.params["next"], location.params["state"]) == (
        "hall.test",
        "/oauth/back",
        "/me/",
        "s123",
    )
    exchange = {"appid": APP_ID, "secret": APP_SECRET, "grant_type": "authorization_code"}
    code = location.params["code"]
    first = sandbox.get("/sns/oauth2/access_token", **exchange, code=code)
    again = sandbox.get("/sns/oauth2/access_token", **exchange, code=code)
    assert (first["openid"], first["scope"], "is_snapshotuser" in first) == (
        "o_demo_2",
        "snsapi_base",
        False,
    )
    assert errcode(again) == 40163
    assert errcode(sandbox.get("/sns/oauth2/access_token", **exchange, code="made-up")) == 40029


def test_oauth_refuses_another_accounts_app_id(sandbox):
    page = sandbox.http.get(
        "/connect/oauth2/authorize",
        params={"appid": "wx_other", "redirect_uri": "http://h/", "response_type": "code"},
    )
    assert page.status_code == 400


def test_the_phone_view_shows_a_users_messages_newest_first(sandbox):
    token = stable_token(sandbox)
    send(sandbox, token, template_id="tpl_pre_call", data={"number3": {"value": "3"}})
    send(sandbox, token, template_id="tpl_call", data={"thing2": {"value": "不动产登记 3号窗口"}})
    page = sandbox.http.get("/phone/o_demo_1")
    assert page.status_code == 200
    assert "张晓梅 · 服务通知" in page.text
    assert "?cards=1" in page.text
    fragment = sandbox.http.get("/phone/o_demo_1", params={"cards": "1"}).text
    assert fragment.index("叫号通知") < fragment.index("即将叫号提醒")
    assert "不动产登记 3号窗口" in fragment
    assert "暂无消息" in sandbox.http.get("/phone/o_demo_2", params={"cards": "1"}).text
    assert sandbox.http.get("/phone/o_nobody").status_code == 404
    index = sandbox.http.get("/phone/").text
    assert all(name in index for name in ("张晓梅", "李建国", "王芳", "陈志强", "刘洋"))


def aliyun_client(sandbox):
    from alibabacloud_dysmsapi20170525.client import Client
    from alibabacloud_tea_openapi.models import Config

    return Client(
        Config(
            access_key_id="test-sms-key",
            access_key_secret="test-sms-secret",
            endpoint=sandbox.url.removeprefix("http://"),
            protocol="http",
        )
    )


def aliyun_send(client, mobile: str, out_id: str):
    from alibabacloud_dysmsapi20170525.models import SendSmsRequest

    return client.send_sms(
        SendSmsRequest(
            phone_numbers=mobile,
            sign_name="政务服务",
            template_code="SMS_CALL",
            template_param=json.dumps({"number": "A012", "counter": "3号窗口"}),
            out_id=out_id,
        )
    ).body


def test_the_aliyun_sdk_sends_through_the_stand_in(sandbox):
    client = aliyun_client(sandbox)
    sent = aliyun_send(client, "13800000001", "hallq-1")
    again = aliyun_send(client, "13800000001", "hallq-1")
    sandbox.post("/sandbox/fail", {"errcode": 45009, "api": "sms"})
    limited = aliyun_send(client, "13800000001", "hallq-2")
    assert (sent.code, again.biz_id, limited.code) == (
        "OK",
        sent.biz_id,
        "isv.BUSINESS_LIMIT_CONTROL",
    )
    [message] = sandbox.messages(mobile="13800000001")
    assert (message["channel"], message["template_id"], message["sign_name"]) == (
        "sms",
        "SMS_CALL",
        "政务服务",
    )
    assert message["data"] == {"number": "A012", "counter": "3号窗口"}
    assert "A012" in sandbox.http.get("/phone/sms/13800000001").text


def tencent_client(sandbox, secret_id: str = SMS_KEY_ID):
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111.sms_client import SmsClient

    profile = HttpProfile(endpoint=sandbox.url.removeprefix("http://"))
    profile.scheme = "http"
    return SmsClient(
        Credential(secret_id, "secret"), "ap-guangzhou", ClientProfile(httpProfile=profile)
    )


def tencent_send(client, context: str):
    from tencentcloud.sms.v20210111.models import SendSmsRequest

    request = SendSmsRequest()
    request.PhoneNumberSet = ["+8613800000002"]
    request.SmsSdkAppId = "1400000000"
    request.SignName = "政务服务"
    request.TemplateId = "100001"
    request.TemplateParamSet = ["A012", "3号窗口"]
    request.SessionContext = context
    return client.SendSms(request).SendStatusSet[0]


def test_the_tencent_sdk_sends_through_the_stand_in(sandbox):
    client = tencent_client(sandbox)
    sent = tencent_send(client, "hallq-5")
    sandbox.post("/sandbox/fail", {"errcode": 45009, "api": "sms"})
    limited = tencent_send(client, "hallq-6")
    assert (sent.Code, limited.Code) == ("Ok", "LimitExceeded.PhoneNumberDailyLimit")
    [message] = sandbox.messages(mobile="13800000002")
    assert (message["template_id"], message["data"], message["dedup_key"]) == (
        "100001",
        {"1": "A012", "2": "3号窗口"},
        "hallq-5",
    )


def test_sms_signed_with_another_access_key_is_refused(sandbox):
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
        TencentCloudSDKException,
    )

    with pytest.raises(TencentCloudSDKException) as refused:
        tencent_send(tencent_client(sandbox, secret_id="someone-else"), "x")
    assert refused.value.code == "AuthFailure.SecretIdNotFound"
    assert sandbox.messages() == []


def test_reset_forgets_everything(sandbox):
    token = stable_token(sandbox)
    send(sandbox, token)
    sandbox.post("/sandbox/reset")
    assert sandbox.messages() == []
    assert errcode(send(sandbox, token)) == 40001
    assert sandbox.stats() == {"requests": 3}


async def post_many(port: int, request: bytes, count: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(count):
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
        assert head.startswith(b"HTTP/1.1 200")
        assert length is not None
        await reader.readexactly(int(length.group(1)))
    writer.close()


def test_it_answers_more_than_a_thousand_json_requests_a_second(sandbox):
    token = stable_token(sandbox)
    body = json.dumps({"touser": "o_demo_1", "template_id": "tpl_call", "data": {}}).encode()
    request = (
        f"POST /cgi-bin/message/template/send?access_token={token} HTTP/1.1\r\n"
        f"Host: sandbox\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    port = int(sandbox.url.rsplit(":", 1)[1])

    async def load() -> None:
        await asyncio.gather(*(post_many(port, request, 200) for _ in range(10)))

    started = time.monotonic()
    asyncio.run(load())
    elapsed = time.monotonic() - started
    # Ten keep-alive connections, sharing this process (and its GIL) with the stand-in.
    assert elapsed < 2.0, f"{2000 / elapsed:.0f} requests/s"
    assert sandbox.stats()["template_sent"] == 2000


def test_the_signature_of_an_event_is_wechats(sandbox, callback_receiver):
    sandbox.post("/sandbox/event", {"openid": "o_demo_3", "event": "subscribe"})
    [callback] = callback_receiver.received
    query = callback.query
    assert query["signature"] == protocol.callback_signature(
        TOKEN, query["timestamp"], query["nonce"]
    )
