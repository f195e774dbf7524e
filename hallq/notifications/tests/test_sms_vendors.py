"""The Aliyun and Tencent Cloud backends, through their official SDKs, against the stand-in."""

from __future__ import annotations

import pytest

from hallq.common import sms
from hallq.notifications.tests.conftest import Sandbox

CALL = {"number": "A012", "service": "不动产登记", "counter": "3号窗口"}


def test_aliyun_sends_the_named_parameters_to_11_digits(sandbox: Sandbox):
    result = sms.AliyunBackend().send("+86 138 1234 5678", "call", CALL, out_id="hallq-1")
    assert result.ok
    [message] = sandbox.messages(channel="sms")
    assert {
        key: message[key] for key in ("to", "template_id", "data", "sign_name", "dedup_key")
    } == {
        "to": "13812345678",
        "template_id": "SMS_call",
        "data": CALL,
        "sign_name": "政务服务",
        "dedup_key": "hallq-1",
    }
    assert result.message_id == message["vendor_id"]


def test_tencent_sends_the_parameters_in_the_templates_order_to_e164(sandbox: Sandbox, settings):
    settings.SMS_BACKEND = "hallq.common.sms.TencentBackend"
    result = sms.get_backend().send("13812345678", "call", CALL, out_id="hallq-2")
    assert result.ok
    [message] = sandbox.messages(channel="sms")
    assert (message["to"], message["template_id"], message["data"], message["dedup_key"]) == (
        "13812345678",
        "SMS_call",
        {"1": "A012", "2": "3号窗口", "3": "不动产登记"},
        "hallq-2",
    )


@pytest.mark.parametrize("backend", [sms.AliyunBackend, sms.TencentBackend])
def test_a_rate_limit_is_transient(sandbox: Sandbox, backend):
    sandbox.fail(api="sms", errcode=1, count=1)
    result = backend().send("13812345678", "call", CALL, out_id="hallq-3")
    assert (result.ok, result.transient) == (False, True)
    assert result.error_code in {
        "isv.BUSINESS_LIMIT_CONTROL",
        "LimitExceeded.PhoneNumberDailyLimit",
    }
    assert sandbox.messages() == []


@pytest.mark.parametrize(
    ("backend", "code"),
    [(sms.AliyunBackend, "network"), (sms.TencentBackend, "ClientNetworkError")],
)
def test_no_answer_in_time_is_transient(sandbox: Sandbox, backend, code, monkeypatch):
    monkeypatch.setattr(sms, "GATEWAY_TIMEOUT_SECONDS", 0.3)
    sandbox.fail(api="sms", timeout_seconds=0.6, count=1)
    result = backend().send("13812345678", "call", CALL, out_id="hallq-4")
    assert (result.ok, result.error_code, result.transient) == (False, code, True)


@pytest.mark.parametrize("backend", [sms.AliyunBackend, sms.TencentBackend])
def test_a_bad_number_or_a_missing_template_code_is_permanent(sandbox: Sandbox, settings, backend):
    assert backend().send("12345", "call", CALL) == sms.SendResult(
        ok=False, error_code="invalid_phone", error_message="not a mobile number"
    )
    settings.SMS_TEMPLATE_CODES = {}
    result = backend().send("13812345678", "call", CALL)
    assert (result.ok, result.error_code, result.transient) == (
        False,
        "template_not_configured",
        False,
    )
    assert sandbox.stats().get("requests", 0) == 1  # the reset only: nothing was sent


def test_a_wrong_access_key_is_permanent(sandbox: Sandbox, settings):
    settings.SMS_ACCESS_KEY_ID = "LTAI-someone-else"
    result = sms.AliyunBackend().send("13812345678", "call", CALL)
    assert (result.ok, result.error_code, result.transient) == (
        False,
        "InvalidAccessKeyId.NotFound",
        False,
    )
