"""WeChat's server callback: who may call it, what it refuses, what each event does, and that a
redelivery does nothing twice."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from hallq.common import clock
from hallq.notifications.models import WechatFollower
from hallq.officialaccount.callback import callback_receipts_prune
from hallq.officialaccount.models import CallbackReceipt
from hallq.officialaccount.services import ticket_scene
from hallq.officialaccount.tests.conftest import ACCOUNT, AES_KEY, APP_ID, event_xml
from hallq.queueing.models import Ticket
from hallq.queueing.tokens import ticket_token
from hallq.wechat.protocol import callback_signature, message_crypto, parse_xml

pytestmark = [pytest.mark.django_db, pytest.mark.urls("hallq.officialaccount.tests.urls")]

OPENID = "o_citizen_1"


def reply_content(response) -> str:
    assert response.status_code == 200
    return parse_xml(response.content)["Content"]


def test_the_url_check_echoes_only_when_signed_with_our_token(client):
    stamp, nonce = str(int(time.time())), "1234"
    good = callback_signature("hallq-test-token", stamp, nonce)
    forged = callback_signature("another-token", stamp, nonce)
    query = f"timestamp={stamp}&nonce={nonce}&echostr=hello-wechat"

    answer = client.get(f"/wechat/callback?{query}&signature={good}")
    assert (answer.status_code, answer.content) == (200, b"hello-wechat")
    assert client.get(f"/wechat/callback?{query}&signature={forged}").status_code == 403
    assert client.get(f"/wechat/callback?{query}").status_code == 403


def test_a_delivery_with_a_forged_signature_is_refused(wechat):
    wechat.token = "not-our-token"
    answer = wechat.deliver(event_xml(OPENID, "subscribe"))
    assert answer.status_code == 403
    assert WechatFollower.objects.count() == 0
    assert CallbackReceipt.objects.count() == 0


def test_a_captured_delivery_replayed_later_is_refused(wechat):
    # Signed correctly, but ten minutes old: WeChat itself retries within seconds.
    answer = wechat.deliver(event_xml(OPENID, "subscribe"), timestamp=int(time.time()) - 600)
    assert answer.status_code == 403
    assert WechatFollower.objects.count() == 0


def test_an_oversized_delivery_is_refused(wechat):
    body = event_xml(OPENID, "subscribe").replace("</xml>", "<Pad>" + "x" * 70_000 + "</Pad></xml>")
    answer = wechat.deliver(body)
    assert answer.status_code == 413
    assert WechatFollower.objects.count() == 0


@pytest.mark.parametrize(
    "attack",
    [
        # Billion laughs: entities that expand to gigabytes.
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;">]><xml><FromUserName>&c;</FromUserName>'
        "<MsgType>event</MsgType><Event>subscribe</Event><CreateTime>1</CreateTime></xml>",
        # XXE: an external entity that reads a local file into the message.
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY f SYSTEM "file:///etc/passwd">]>'
        "<xml><FromUserName>&f;</FromUserName><MsgType>event</MsgType>"
        "<Event>subscribe</Event><CreateTime>1</CreateTime></xml>",
    ],
    ids=["billion-laughs", "external-entity"],
)
def test_an_entity_attack_is_refused(wechat, attack):
    answer = wechat.deliver(attack)
    assert answer.status_code == 400
    assert WechatFollower.objects.count() == 0


def test_subscribe_and_unsubscribe_keep_the_follower_list(wechat):
    answer = wechat.deliver(event_xml(OPENID, "subscribe"))
    assert (answer.status_code, answer.content) == (200, b"success")
    follower = WechatFollower.objects.get()
    assert (follower.openid, follower.subscribed) == (OPENID, True)

    wechat.deliver(event_xml(OPENID, "unsubscribe"))
    follower.refresh_from_db()
    assert follower.subscribed is False
    assert follower.unsubscribed_at is not None


def test_scanning_a_ticket_binds_it_and_says_so(wechat, small_hall):
    [ticket] = small_hall.issue()
    answer = wechat.deliver(event_xml(OPENID, "SCAN", ticket_scene(ticket.pk)))

    assert reply_content(answer) == "已绑定 A001 号，叫号前将提醒您"
    reply = parse_xml(answer.content)
    assert (reply["ToUserName"], reply["FromUserName"], reply["MsgType"]) == (
        OPENID,
        ACCOUNT,
        "text",
    )
    assert Ticket.objects.get(pk=ticket.pk).owner_openid == OPENID


def test_the_reply_is_in_english_when_wechat_asks_for_it(wechat, small_hall):
    [ticket] = small_hall.issue()
    wechat.client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    answer = wechat.deliver(event_xml(OPENID, "SCAN", ticket_scene(ticket.pk)))
    assert reply_content(answer) == (
        "Ticket A001 is bound to you: we will let you know before it is called."
    )


def test_following_the_account_by_scanning_a_ticket_binds_it_too(wechat, small_hall):
    [ticket] = small_hall.issue()
    answer = wechat.deliver(event_xml(OPENID, "subscribe", f"qrscene_{ticket_scene(ticket.pk)}"))

    assert reply_content(answer) == "已绑定 A001 号，叫号前将提醒您"
    assert Ticket.objects.get(pk=ticket.pk).owner_openid == OPENID
    assert WechatFollower.objects.get(openid=OPENID).subscribed is True


def test_a_redelivered_event_is_ignored(wechat, small_hall):
    subscribe = event_xml(OPENID, "subscribe", create_time=1_800_000_000)
    assert wechat.deliver(subscribe).status_code == 200
    wechat.deliver(event_xml(OPENID, "unsubscribe", create_time=1_800_000_005))

    # WeChat did not get the first answer in time and delivers the subscribe again.
    again = wechat.deliver(subscribe)

    assert (again.status_code, again.content) == (200, b"success")
    assert WechatFollower.objects.get(openid=OPENID).subscribed is False
    assert CallbackReceipt.objects.count() == 2


def test_a_redelivered_message_is_ignored_by_its_msg_id(wechat):
    text = (
        f"<xml><ToUserName>{ACCOUNT}</ToUserName><FromUserName>{OPENID}</FromUserName>"
        "<CreateTime>1800000000</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
        "<MsgId>23456789012345678</MsgId></xml>"
    )
    assert wechat.deliver(text).content == b"success"
    assert wechat.deliver(text).content == b"success"
    assert CallbackReceipt.objects.count() == 1


def test_a_forged_scene_binds_nothing(wechat, small_hall):
    first, second = small_hall.issue(2)
    forged = [
        f"t.{second.pk}.{ticket_token(first.pk)}",  # another ticket's token
        f"t.{second.pk}.{'0' * 32}",
        f"t.{second.pk}",
        "t.x.y",
        "anything",
    ]
    for scene in forged:
        answer = wechat.deliver(event_xml(OPENID, "SCAN", scene))
        assert reply_content(answer) == "该二维码无效。"
    assert Ticket.objects.exclude(owner_openid="").count() == 0


def test_a_ticket_bound_to_someone_stays_theirs(wechat, small_hall):
    [ticket] = small_hall.issue()
    wechat.deliver(event_xml(OPENID, "SCAN", ticket_scene(ticket.pk)))

    answer = wechat.deliver(event_xml("o_someone_else", "SCAN", ticket_scene(ticket.pk)))
    assert reply_content(answer) == "A001 号已绑定其他微信用户。"
    # The owner scanning again is told the same as the first time.
    again = wechat.deliver(event_xml(OPENID, "SCAN", ticket_scene(ticket.pk)))
    assert reply_content(again) == "已绑定 A001 号，叫号前将提醒您"
    assert Ticket.objects.get(pk=ticket.pk).owner_openid == OPENID


def test_a_finished_ticket_cannot_be_bound(wechat, small_hall):
    [ticket] = small_hall.issue()
    small_hall.call()
    from hallq.queueing.services import counter_finish

    counter_finish(counter_id=small_hall.counter.pk, now=clock.now())
    answer = wechat.deliver(event_xml(OPENID, "SCAN", ticket_scene(ticket.pk)))
    assert reply_content(answer) == "A001 号已不在排队中。"


def test_safe_mode_opens_the_message_and_encrypts_the_reply(wechat, small_hall, settings):
    settings.WECHAT_APP_ID = APP_ID
    settings.WECHAT_AES_KEY = AES_KEY
    [ticket] = small_hall.issue()

    answer = wechat.deliver_encrypted(event_xml(OPENID, "SCAN", ticket_scene(ticket.pk)))

    assert answer.status_code == 200
    envelope = parse_xml(answer.content)
    assert set(envelope) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    plain = message_crypto().decrypt_message(
        answer.content.decode(),
        envelope["MsgSignature"],
        envelope["TimeStamp"],
        envelope["Nonce"],
    )
    assert parse_xml(plain)["Content"] == "已绑定 A001 号，叫号前将提醒您"
    assert Ticket.objects.get(pk=ticket.pk).owner_openid == OPENID


def test_safe_mode_refuses_a_plain_delivery(wechat, settings):
    settings.WECHAT_APP_ID = APP_ID
    settings.WECHAT_AES_KEY = AES_KEY
    assert wechat.deliver(event_xml(OPENID, "subscribe")).status_code == 403
    assert WechatFollower.objects.count() == 0


def test_receipts_are_kept_a_day(wechat):
    wechat.deliver(event_xml(OPENID, "subscribe"))
    now = clock.now()
    assert callback_receipts_prune(now=now + timedelta(hours=23)) == 0
    assert callback_receipts_prune(now=now + timedelta(hours=25)) == 1
