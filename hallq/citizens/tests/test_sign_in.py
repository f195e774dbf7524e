"""SMS sign-in through the API: codes, their rate limit, their single use, the attempts limit,
tokens."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from hallq.citizens import services
from hallq.citizens.auth import citizen_for_token
from hallq.citizens.models import Citizen, CitizenToken, SignInCode
from hallq.citizens.selectors import SignedInCitizen, signed_in_citizen
from hallq.common import clock, worker
from hallq.common.errors import InvalidInput
from hallq.common.memo import forget_all
from hallq.halls.auth import staff_token_issue

pytestmark = [pytest.mark.django_db, pytest.mark.urls("hallq.citizens.tests.urls")]

MOBILE = "13812345678"


def test_a_code_by_sms_signs_the_citizen_in_and_creates_them_once(
    api, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.call("POST", "/citizen/sign-in/code", {"mobile": "138 1234 5678"})
    assert answer.status_code == 202
    [message] = outbox
    code = message.params["code"]
    assert (message.phone, message.template, message.sign_name) == (
        MOBILE,
        "sign_in_code",
        "政务服务",
    )
    assert len(code) == 6
    assert code.isdigit()
    assert message.text == f"您的登录验证码为 {code}，5 分钟内有效。"

    answer = api.call("POST", "/citizen/sign-in", {"mobile": "+86 13812345678", "code": code})
    assert answer.status_code == 200
    body = answer.json()
    assert body["token"].startswith("hc_")
    assert (body["registered"], body["agreement_version_required"]) == (False, 0)
    citizen = Citizen.objects.get()
    assert citizen.mobile == MOBILE
    assert citizen_for_token(body["token"], clock.now()) == citizen

    profile = api.call("GET", "/citizen/profile", token=body["token"]).json()
    assert profile == {
        "name": "",
        "id_number_masked": None,
        "mobile_masked": "138****5678",
        "registered": False,
        "agreement_version": 0,
        "current_agreement_version": 0,
        "blacklisted_until": None,
    }


def test_signing_in_again_finds_the_same_citizen(send_code):
    now = clock.now()
    first, _ = services.sign_in(mobile=MOBILE, code=send_code(now=now), now=now)
    later = now + timedelta(minutes=2)
    second, _ = services.sign_in(mobile=MOBILE, code=send_code(now=later), now=later)
    assert first == second
    assert Citizen.objects.count() == 1
    assert CitizenToken.objects.filter(citizen=first).count() == 2


def test_the_code_leaves_only_after_the_transaction_commits(
    outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.sign_in_code_send(mobile=MOBILE, now=clock.now())
    assert outbox == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(outbox) == 1


def test_one_code_a_minute(send_code):
    now = clock.now()
    send_code(now=now)
    with pytest.raises(services.TooManyRequests) as refused:
        services.sign_in_code_send(mobile=MOBILE, now=now + timedelta(seconds=45))
    assert (refused.value.status, refused.value.code) == (429, "sign_in_code_too_soon")
    assert str(refused.value.message) == "验证码发送过于频繁，请 15 秒后再试。"
    send_code(now=now + timedelta(seconds=60))
    assert SignInCode.objects.count() == 2


def test_a_second_request_at_once_is_answered_429(api, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert api.call("POST", "/citizen/sign-in/code", {"mobile": MOBILE}).status_code == 202
        answer = api.call("POST", "/citizen/sign-in/code", {"mobile": MOBILE}, language="en")
    assert answer.status_code == 429
    assert answer.json()["code"] == "sign_in_code_too_soon"
    assert answer.json()["message"].startswith("A code was sent less than a minute ago.")
    assert len(outbox) == 1


def test_ten_codes_a_day_then_none_until_the_next_local_day(send_code):
    morning = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    for minute in range(10):
        send_code(now=morning + timedelta(minutes=minute * 2))
    with pytest.raises(services.TooManyRequests) as refused:
        services.sign_in_code_send(mobile=MOBILE, now=morning + timedelta(hours=10))
    assert refused.value.code == "sign_in_code_daily_limit"
    assert str(refused.value.message) == "该号码今日获取验证码的次数已达上限，请明天再试。"
    # Another number is not affected, and the next day (Shanghai time) starts afresh.
    send_code(mobile="13900000000", now=morning + timedelta(hours=10))
    send_code(now=datetime(2026, 3, 3, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert SignInCode.objects.count() == 12


def test_the_worker_prunes_old_codes_and_expired_tokens_and_the_limits_still_hold(send_code):
    shanghai = ZoneInfo("Asia/Shanghai")
    old = datetime(2026, 3, 1, 11, 50, tzinfo=shanghai)  # 2 days and 10 minutes before noon
    send_code(now=old)
    morning = datetime(2026, 3, 3, 8, 0, tzinfo=shanghai)
    for minute in range(10):
        send_code(now=morning + timedelta(minutes=minute * 2))
    citizen = Citizen.objects.create(mobile=MOBILE, mobile_index="x", created_at=old)
    expired = services.citizen_token_issue(citizen=citizen, now=old - timedelta(days=30))
    live = services.citizen_token_issue(citizen=citizen, now=old)
    noon = morning + timedelta(hours=4)

    assert "sign_in_records_prune" in {job.name for job in worker.registered()}
    assert services.sign_in_records_prune(now=noon) == 2

    assert SignInCode.objects.count() == 10  # today's; the one of two days ago is gone
    assert SignInCode.objects.filter(created_at__lt=morning).count() == 0
    assert signed_in_citizen(expired, noon) is None
    assert signed_in_citizen(live, noon) is not None
    # Today's codes still count: the eleventh is refused, and the sequence goes on.
    with pytest.raises(services.TooManyRequests) as refused:
        services.sign_in_code_send(mobile=MOBILE, now=noon)
    assert refused.value.code == "sign_in_code_daily_limit"
    assert send_code(now=datetime(2026, 3, 4, 8, tzinfo=shanghai))
    assert SignInCode.objects.order_by("-sequence").values_list("sequence", flat=True)[0] == 12


def test_a_code_is_used_once(api, send_code):
    code = send_code()
    assert api.call("POST", "/citizen/sign-in", {"mobile": MOBILE, "code": code}).status_code == 200
    again = api.call("POST", "/citizen/sign-in", {"mobile": MOBILE, "code": code})
    assert again.status_code == 400
    assert again.json() == {
        "code": "sign_in_code_invalid",
        "message": "该号码没有有效的验证码：验证码已过期、已使用或输错次数过多。请重新获取验证码。",
    }
    assert CitizenToken.objects.count() == 1


def test_five_wrong_codes_kill_the_code(api, send_code):
    code = send_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        answer = api.call("POST", "/citizen/sign-in", {"mobile": MOBILE, "code": wrong})
        assert answer.status_code == 400
        assert answer.json() == {
            "code": "sign_in_code_wrong",
            "message": "验证码错误，请核对短信后重试。",
        }
    answer = api.call("POST", "/citizen/sign-in", {"mobile": MOBILE, "code": code})
    assert answer.status_code == 400
    assert answer.json()["code"] == "sign_in_code_invalid"
    assert Citizen.objects.count() == 0
    assert SignInCode.objects.get().attempts == 5


def test_four_wrong_codes_still_leave_the_right_one_usable(send_code):
    code = send_code()
    for _ in range(4):
        with pytest.raises(InvalidInput):
            services.sign_in(mobile=MOBILE, code="wrong", now=clock.now())
    _citizen, token = services.sign_in(mobile=MOBILE, code=code, now=clock.now())
    assert token.startswith("hc_")


def test_a_code_expires_after_five_minutes(send_code):
    now = clock.now()
    code = send_code(now=now)
    with pytest.raises(InvalidInput) as refused:
        services.sign_in(mobile=MOBILE, code=code, now=now + timedelta(minutes=5))
    assert refused.value.code == "sign_in_code_invalid"
    services.sign_in(
        mobile=MOBILE, code=code, now=now + timedelta(minutes=5) - timedelta(seconds=1)
    )


def test_an_earlier_code_still_alive_may_be_entered(send_code):
    now = clock.now()
    first = send_code(now=now)
    send_code(now=now + timedelta(seconds=60))
    citizen, _ = services.sign_in(mobile=MOBILE, code=first, now=now + timedelta(seconds=90))
    assert citizen.mobile == MOBILE


def test_a_code_of_another_number_does_not_sign_in(send_code):
    code = send_code(mobile="13900000000")
    with pytest.raises(InvalidInput) as refused:
        services.sign_in(mobile=MOBILE, code=code, now=clock.now())
    assert refused.value.code == "sign_in_code_invalid"


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("zh-hans", "请输入 11 位中国大陆手机号码。"),
        ("en", "Enter a mainland China mobile number of 11 digits."),
    ],
)
def test_a_bad_mobile_number_is_refused_in_the_callers_language(api, outbox, language, message):
    answer = api.call("POST", "/citizen/sign-in/code", {"mobile": "1234"}, language=language)
    assert answer.status_code == 400
    assert answer.json() == {"code": "mobile_format", "message": message}
    assert outbox == []
    assert SignInCode.objects.count() == 0


def test_signing_out_ends_the_token(api, send_code):
    code = send_code()
    token = api.call("POST", "/citizen/sign-in", {"mobile": MOBILE, "code": code}).json()["token"]
    assert api.call("POST", "/citizen/sign-out", token=token).status_code == 204
    answer = api.call("GET", "/citizen/profile", token=token)
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthorised"


def test_only_unexpired_citizen_tokens_are_accepted(api, send_code, demo):
    now = clock.now()
    citizen, token = services.sign_in(mobile=MOBILE, code=send_code(now=now), now=now)
    assert citizen_for_token(token, now + timedelta(days=30) - timedelta(seconds=1)) == citizen
    assert citizen_for_token(token, now + timedelta(days=30)) is None
    staff = demo["halls"][0]["staff"][0]
    staff_token = staff_token_issue(username=staff["username"], password=staff["password"], now=now)
    assert api.call("GET", "/citizen/profile", token=staff_token).status_code == 401
    assert api.call("GET", "/citizen/profile").status_code == 401


def test_a_remembered_token_ends_at_its_expiry_and_at_sign_out_in_this_process(send_code):
    now = clock.now()
    citizen, token = services.sign_in(mobile=MOBILE, code=send_code(now=now), now=now)
    assert signed_in_citizen(token, now) == SignedInCitizen(citizen.pk)
    assert signed_in_citizen(token, now + timedelta(days=30)) is None

    other = services.citizen_token_issue(citizen=citizen, now=now)
    assert signed_in_citizen(other, now) == SignedInCitizen(citizen.pk)
    services.citizen_token_revoke(token=other)
    assert signed_in_citizen(other, now) is None


def test_a_token_revoked_by_another_process_is_accepted_here_for_a_few_seconds(send_code):
    now = clock.now()
    citizen, token = services.sign_in(mobile=MOBILE, code=send_code(now=now), now=now)
    assert signed_in_citizen(token, now) == SignedInCitizen(citizen.pk)
    CitizenToken.objects.all().delete()  # as another process signing out would
    assert signed_in_citizen(token, now) == SignedInCitizen(citizen.pk)
    forget_all()  # what TOKEN_MEMO_SECONDS later does
    assert signed_in_citizen(token, now) is None


def test_the_database_holds_neither_the_mobile_number_nor_the_code(send_code):
    code = send_code()
    services.sign_in(mobile=MOBILE, code=code, now=clock.now())
    with connection.cursor() as cursor:
        cursor.execute("SELECT mobile, mobile_index FROM citizens_citizen")
        [(stored_mobile, stored_index)] = cursor.fetchall()
        cursor.execute("SELECT mobile_index, code_hash FROM citizens_signincode")
        [(code_mobile_index, code_hash)] = cursor.fetchall()
    assert stored_mobile.startswith("v1:")
    for stored in (stored_mobile, stored_index, code_mobile_index, code_hash):
        assert MOBILE not in stored
        assert code not in stored
    assert code_mobile_index == stored_index


def test_a_failing_sms_gateway_logs_neither_the_number_nor_the_code(
    settings, caplog, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "hallq.citizens.tests.test_sign_in.BrokenBackend"
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        services.sign_in_code_send(mobile=MOBILE, now=clock.now())
    [record] = caplog.records
    assert (
        record.getMessage()
        == f"sending sign-in code {SignInCode.objects.get().pk} failed: RuntimeError"
    )
    assert MOBILE not in caplog.text


class BrokenBackend:
    def send(self, phone, template, params, *, sign_name=None, out_id=None):
        raise RuntimeError(f"gateway refused {phone} {params}")
