"""The SMS backends: the console prints the message with the number masked; the in-memory
backend keeps an outbox; the settings choose."""

from __future__ import annotations

import io

from hallq.common import sms


def test_the_console_prints_the_whole_message_but_masks_the_number():
    stream = io.StringIO()
    result = sms.ConsoleBackend(stream=stream).send(
        "13812345678", "sign_in_code", {"code": "042917"}, sign_name="某市政务服务"
    )
    assert result.ok
    assert stream.getvalue() == (
        "[SMS to 138****5678] 【某市政务服务】您的登录验证码为 042917，5 分钟内有效。\n"
    )


def test_the_sign_name_defaults_to_the_settings(settings, capsys):
    settings.SMS_SIGN_NAME = "政务大厅"
    sms.ConsoleBackend().send("13812345678", "sign_in_code", {"code": "1"})
    assert capsys.readouterr().out.startswith("[SMS to 138****5678] 【政务大厅】")


def test_the_in_memory_backend_keeps_an_outbox(settings):
    settings.SMS_BACKEND = "hallq.common.sms.LocMemBackend"
    sms.LocMemBackend.outbox.clear()
    backend = sms.get_backend()
    assert isinstance(backend, sms.LocMemBackend)
    backend.send("13812345678", "sign_in_code", {"code": "123456"}, out_id="sign-in-code-1")
    assert sms.LocMemBackend.outbox == [
        sms.SmsMessage(
            phone="13812345678",
            template="sign_in_code",
            params={"code": "123456"},
            sign_name=settings.SMS_SIGN_NAME,
            out_id="sign-in-code-1",
            text="您的登录验证码为 123456，5 分钟内有效。",
        )
    ]
    sms.LocMemBackend.outbox.clear()


def test_the_console_is_the_default_backend():
    assert isinstance(sms.get_backend(), sms.ConsoleBackend)
