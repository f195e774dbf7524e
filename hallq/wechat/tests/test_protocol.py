"""The protocol against published vectors (research notes §10), and forged callbacks refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from wechatpy.crypto import PrpCrypto

from hallq.wechat import protocol
from hallq.wechat.protocol import CallbackRefused

# wechatpy tests/test_crypto.py: the official algorithm's vector.
VECTOR_TOKEN = "123456"
VECTOR_AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
VECTOR_APP_ID = "wx49f0ab532d5d035a"
VECTOR_TIMESTAMP = "1411525903"
VECTOR_NONCE = "461056294"
VECTOR_NOW = datetime.fromtimestamp(int(VECTOR_TIMESTAMP), UTC)
VECTOR_REPLY = """<xml>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>
<ToUserName><![CDATA[messense]]></ToUserName>
<AgentID>1</AgentID>
<CreateTime>1411525903</CreateTime>
</xml>"""
VECTOR_ENCRYPTED_REPLY = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGs"
    "L8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSj"
    "PUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJv"
    "FurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFY"
    "FMNMpatF9XiKzHo3"
)
VECTOR_ENCRYPTED_MESSAGE = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTy"
    "eDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYy"
    "olBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWO"
    "MZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7ml"
    "sl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
VECTOR_MESSAGE_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"

SCAN_EVENT = (
    b"<xml><ToUserName><![CDATA[gh_hall]]></ToUserName>"
    b"<FromUserName><![CDATA[o_demo_1]]></FromUserName><CreateTime>1714000000</CreateTime>"
    b"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event>"
    b"<EventKey><![CDATA[t.abc]]></EventKey><Ticket><![CDATA[qr1]]></Ticket></xml>"
)
PLAIN_TOKEN = "mytoken"
SCAN_NOW = datetime.fromtimestamp(1714000000, UTC)


@pytest.fixture
def plain_mode(settings):
    settings.WECHAT_TOKEN = "mytoken"
    settings.WECHAT_AES_KEY = ""
    settings.WECHAT_APP_ID = "wx_hall"


@pytest.fixture
def vector_account(settings):
    settings.WECHAT_TOKEN = VECTOR_TOKEN
    settings.WECHAT_AES_KEY = VECTOR_AES_KEY
    settings.WECHAT_APP_ID = VECTOR_APP_ID


@pytest.fixture
def fixed_random(monkeypatch):
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: "1234567890123456")


def signed(timestamp: str = "1714000000", nonce: str = "123456", token: str = PLAIN_TOKEN):
    return {
        "timestamp": timestamp,
        "nonce": nonce,
        "signature": protocol.callback_signature(token, timestamp, nonce),
    }


def test_the_plain_signature_matches_the_vector():
    assert protocol.callback_signature("mytoken", "1714000000", "123456") == (
        "16a1009b7d142b43abd24f0539f6eab62fbd6ea3"
    )
    assert protocol.check_signature(
        "mytoken", "1714000000", "123456", "16a1009b7d142b43abd24f0539f6eab62fbd6ea3"
    )


def test_a_wrong_or_empty_signature_or_token_does_not_check():
    assert not protocol.check_signature(
        "mytoken", "1714000001", "123456", "16a1009b7d142b43abd24f0539f6eab62fbd6ea3"
    )
    assert not protocol.check_signature("mytoken", "1714000000", "123456", "")
    assert not protocol.check_signature("mytoken", "1714000000", "123456", "签名")
    assert not protocol.check_signature("", "", "", protocol.callback_signature("", "", ""))


def test_the_jsapi_signature_matches_the_official_example_and_ignores_the_fragment():
    ticket = (
        "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    )
    expected = "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    url = "http://mp.weixin.qq.com?params=value"
    assert protocol.jsapi_signature(ticket, "Wm3WZYTPz0wzccnW", "1414587457", url) == expected
    assert protocol.jsapi_signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, url + "#x") == expected


def test_safe_mode_encryption_matches_the_vector(vector_account, fixed_random):
    envelope = protocol.message_crypto().encrypt_message(
        VECTOR_REPLY, VECTOR_NONCE, VECTOR_TIMESTAMP
    )
    fields = protocol.parse_xml(envelope)
    assert fields == {
        "Encrypt": VECTOR_ENCRYPTED_REPLY,
        "MsgSignature": "407518b7649e86ef23978113f92d27afa9296533",
        "TimeStamp": VECTOR_TIMESTAMP,
        "Nonce": VECTOR_NONCE,
    }


def test_a_safe_mode_callback_of_the_vector_is_decrypted(vector_account):
    body = (
        f"<xml><ToUserName><![CDATA[{VECTOR_APP_ID}]]></ToUserName>"
        f"<Encrypt><![CDATA[{VECTOR_ENCRYPTED_MESSAGE}]]></Encrypt></xml>"
    ).encode()
    params = {
        **signed(VECTOR_TIMESTAMP, VECTOR_NONCE, VECTOR_TOKEN),
        "encrypt_type": "aes",
        "msg_signature": VECTOR_MESSAGE_SIGNATURE,
    }
    message = protocol.parse_callback(body, params=params, now=VECTOR_NOW)
    assert message["Content"] == "test"
    assert message["FromUserName"] == "messense"


def test_an_encrypted_reply_opens_to_the_text_sent(vector_account):
    envelope = protocol.reply_text(
        "o_demo_1",
        "已绑定，叫号时通知您",
        encrypted=True,
        nonce="42",
        timestamp=1714000000,
        from_account="gh_hall",
    )
    fields = protocol.parse_xml(envelope)
    assert fields["MsgSignature"] == protocol.message_signature(
        VECTOR_TOKEN, "1714000000", "42", fields["Encrypt"]
    )
    plain = protocol.message_crypto().decrypt_message(
        {"Encrypt": fields["Encrypt"]}, fields["MsgSignature"], "1714000000", "42"
    )
    assert protocol.parse_xml(plain) == {
        "ToUserName": "o_demo_1",
        "FromUserName": "gh_hall",
        "CreateTime": "1714000000",
        "MsgType": "text",
        "Content": "已绑定，叫号时通知您",
    }


def test_a_plain_reply_escapes_cdata_endings(plain_mode):
    reply = protocol.reply_text("o_1", "a]]>b", encrypted=False, nonce="1", timestamp=5)
    assert protocol.parse_xml(reply)["Content"] == "a]]>b"


def test_a_signed_plain_callback_is_parsed(plain_mode):
    message = protocol.parse_callback(SCAN_EVENT, params=signed(), now=SCAN_NOW)
    assert message == {
        "ToUserName": "gh_hall",
        "FromUserName": "o_demo_1",
        "CreateTime": "1714000000",
        "MsgType": "event",
        "Event": "SCAN",
        "EventKey": "t.abc",
        "Ticket": "qr1",
    }


def refusal(body: bytes, params: dict[str, str], now: datetime = SCAN_NOW) -> str:
    with pytest.raises(CallbackRefused) as refused:
        protocol.parse_callback(body, params=params, now=now)
    return refused.value.reason


def test_a_callback_with_a_bad_or_missing_signature_is_refused(plain_mode):
    assert refusal(SCAN_EVENT, {**signed(), "signature": "0" * 40}) == "signature"
    assert refusal(SCAN_EVENT, {"timestamp": "1714000000", "nonce": "123456"}) == "signature"
    assert refusal(SCAN_EVENT, signed(token="another-token")) == "signature"


def test_a_replayed_callback_older_than_five_minutes_is_refused(plain_mode):
    late = datetime.fromtimestamp(1714000000 + 301, UTC)
    assert refusal(SCAN_EVENT, signed(), now=late) == "stale"
    assert refusal(SCAN_EVENT, signed(timestamp="soon")) == "stale"


def test_an_oversized_callback_is_refused_before_parsing(plain_mode):
    body = b"<xml><Content>" + b"x" * protocol.MAX_CALLBACK_BYTES + b"</Content></xml>"
    assert refusal(body, signed()) == "too_large"


def test_a_billion_laughs_payload_is_refused(plain_mode):
    lol = "".join(f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10))
    body = (
        f'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol0 "lol">{lol}]>'
        "<xml><Content>&lol9;</Content></xml>"
    ).encode()
    assert refusal(body, signed()) == "entities"


def test_an_external_entity_payload_is_refused(plain_mode):
    body = (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
        b"<xml><Content>&secret;</Content></xml>"
    )
    assert refusal(body, signed()) == "entities"


def test_malformed_or_foreign_xml_is_refused(plain_mode):
    assert refusal(b"<xml><Content>", signed()) == "malformed"
    assert refusal(b"<html></html>", signed()) == "malformed"


def safe_mode_callback(plain: bytes, nonce: str = "77", timestamp: str = "1714000000"):
    envelope = protocol.parse_xml(
        protocol.message_crypto().encrypt_message(plain, nonce, timestamp)
    )
    body = (
        "<xml><ToUserName><![CDATA[gh_hall]]></ToUserName>"
        f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    ).encode()
    params = {
        **signed(timestamp, nonce, VECTOR_TOKEN),
        "encrypt_type": "aes",
        "msg_signature": envelope["MsgSignature"],
    }
    return body, params


def test_safe_mode_round_trips_an_event(vector_account):
    body, params = safe_mode_callback(SCAN_EVENT)
    message = protocol.parse_callback(body, params=params, now=SCAN_NOW)
    assert (message["FromUserName"], message["Event"], message["EventKey"]) == (
        "o_demo_1",
        "SCAN",
        "t.abc",
    )


def test_safe_mode_refuses_plain_callbacks_and_bad_message_signatures(vector_account):
    plain_params = signed(token=VECTOR_TOKEN)
    assert refusal(SCAN_EVENT, plain_params) == "decrypt"
    body, params = safe_mode_callback(SCAN_EVENT)
    assert refusal(body, {**params, "msg_signature": "0" * 40}) == "signature"


def test_safe_mode_refuses_a_tampered_ciphertext_or_another_accounts(vector_account, settings):
    body, params = safe_mode_callback(SCAN_EVENT)
    encrypted = protocol.parse_xml(body)["Encrypt"]
    tampered = encrypted[:-8] + "AAAAAAA="
    forged_body = body.replace(encrypted.encode(), tampered.encode())
    forged = {
        **params,
        "msg_signature": protocol.message_signature(VECTOR_TOKEN, "1714000000", "77", tampered),
    }
    assert refusal(forged_body, forged) == "decrypt"

    settings.WECHAT_APP_ID = "wx_another_account"
    other_body, other_params = safe_mode_callback(SCAN_EVENT)
    settings.WECHAT_APP_ID = VECTOR_APP_ID
    assert refusal(other_body, other_params) == "decrypt"
