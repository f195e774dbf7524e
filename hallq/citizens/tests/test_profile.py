"""Registration, the booking agreement and the profile through the API: errors in the caller's
language, nothing changed by a refused request, numbers always masked."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hallq.citizens import services
from hallq.citizens.models import Citizen
from hallq.citizens.tests.factories import make_citizen
from hallq.common import clock

pytestmark = [pytest.mark.django_db, pytest.mark.urls("hallq.citizens.tests.urls")]

MOBILE = "13812345678"
ID_NUMBER = "110101199003074514"


@pytest.fixture
def citizen() -> Citizen:
    return make_citizen(MOBILE)


@pytest.fixture
def token(citizen: Citizen) -> str:
    return services.citizen_token_issue(citizen=citizen, now=clock.now())


def assert_masked(answer) -> None:
    text = answer.content.decode()
    assert MOBILE not in text
    assert ID_NUMBER not in text


def test_registering_gives_a_masked_profile(api, citizen, token):
    answer = api.call(
        "PUT", "/citizen/profile", {"name": "  张三 ", "id_number": ID_NUMBER}, token=token
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "name": "张三",
        "id_number_masked": "110101********4514",
        "mobile_masked": "138****5678",
        "registered": True,
        "agreement_version": 0,
        "current_agreement_version": 0,
        "blacklisted_until": None,
    }
    assert_masked(answer)
    assert_masked(api.call("GET", "/citizen/profile", token=token))
    citizen.refresh_from_db()
    assert (citizen.name, citizen.id_number) == ("张三", ID_NUMBER)
    assert citizen.registered_at is not None


ID_ERRORS = [
    (
        "11010519900307451",
        "id_format",
        "身份证号码应为 18 位：17 位数字，最后一位为数字或 X。",
        "An ID number has 18 characters: 17 digits, then a digit or X.",
    ),
    (
        "990101199003074514",
        "id_province",
        "身份证号码开头的省份代码无效。",
        "This ID number does not begin with a province code.",
    ),
    (
        "110105194902300027",
        "id_birth_date",
        "身份证号码中的出生日期无效。",
        "The birth date in this ID number is not a valid date.",
    ),
    (
        "110105194912310021",
        "id_check_digit",
        "身份证号码最后一位（校验码）不正确，请核对号码。",
        "The last character of this ID number (its check digit) does not match; "
        "please check the number.",
    ),
]


@pytest.mark.parametrize(("number", "code", "chinese", "english"), ID_ERRORS)
def test_each_id_number_error_is_a_400_in_chinese_or_english_and_changes_nothing(
    api, citizen, token, number, code, chinese, english
):
    for language, message in (("zh-hans", chinese), ("en", english)):
        answer = api.call(
            "PUT",
            "/citizen/profile",
            {"name": "张三", "id_number": number},
            token=token,
            language=language,
        )
        assert answer.status_code == 400
        assert answer.json() == {"code": code, "message": message}
    citizen.refresh_from_db()
    assert (citizen.name, citizen.id_number, citizen.id_number_index) == ("", "", None)
    assert citizen.registered_at is None


def test_a_future_birth_date_is_refused(api, token):
    tomorrow = clock.now() + timedelta(days=2)
    number = f"110101{tomorrow:%Y%m%d}001"
    from stdnum.cn.ric import calc_check_digit

    number += calc_check_digit(number + "0")
    answer = api.call("PUT", "/citizen/profile", {"name": "张三", "id_number": number}, token=token)
    assert answer.status_code == 400
    assert answer.json()["code"] == "id_birth_date"


@pytest.mark.parametrize("name", ["", "   ", "张" * 51])
def test_a_real_name_has_1_to_50_characters(api, citizen, token, name):
    answer = api.call(
        "PUT", "/citizen/profile", {"name": name, "id_number": ID_NUMBER}, token=token
    )
    assert answer.status_code == 400
    assert answer.json() == {"code": "name", "message": "请输入真实姓名（1 至 50 个字）。"}
    citizen.refresh_from_db()
    assert citizen.id_number_index is None


def test_an_id_number_of_another_citizen_is_refused_showing_their_masked_mobile(
    api, citizen, token
):
    make_citizen("13900001111", name="李四", id_number=ID_NUMBER)
    answer = api.call(
        "PUT", "/citizen/profile", {"name": "张三", "id_number": ID_NUMBER}, token=token
    )
    assert answer.status_code == 409
    assert answer.json() == {
        "code": "id_number_taken",
        "message": "该身份证号码已由手机号 139****1111 登记。"
        "请使用该手机号登录，或向服务大厅求助。",
    }
    citizen.refresh_from_db()
    assert (citizen.name, citizen.id_number_index) == ("", None)


def test_the_name_may_be_corrected_but_not_the_id_number(api, citizen, token):
    body = {"name": "张山", "id_number": ID_NUMBER}
    assert api.call("PUT", "/citizen/profile", body, token=token).status_code == 200
    registered_at = Citizen.objects.get().registered_at
    corrected = api.call(
        "PUT",
        "/citizen/profile",
        {"name": "张三", "id_number": "110101 19900307451 4"},
        token=token,
    )
    assert corrected.status_code == 200
    assert corrected.json()["name"] == "张三"
    assert Citizen.objects.get().registered_at == registered_at
    changed = api.call(
        "PUT",
        "/citizen/profile",
        {"name": "张三", "id_number": "11010519491231002X"},
        token=token,
        language="en",
    )
    assert changed.status_code == 409
    assert changed.json() == {
        "code": "id_number_fixed",
        "message": "Your ID number is already registered and cannot be changed. Contact the "
        "service hall to correct it.",
    }
    assert Citizen.objects.get().id_number == ID_NUMBER


def test_the_agreement_is_read_without_signing_in_and_only_the_current_one_accepted(
    api, citizen, token
):
    assert api.call("GET", "/agreement").json() == {
        "code": "no_agreement",
        "message": "尚未发布预约协议。",
    }
    assert api.call("POST", "/citizen/agreement", {"version": 1}, token=token).status_code == 409

    now = clock.now()
    services.agreement_publish(title="预约协议", text="第一版", now=now)
    services.agreement_publish(title="预约协议", text="第二版", now=now)
    assert api.call("GET", "/agreement").json() == {
        "version": 2,
        "title": "预约协议",
        "text": "第二版",
    }
    old = api.call("POST", "/citizen/agreement", {"version": 1}, token=token)
    assert old.status_code == 409
    assert old.json() == {
        "code": "agreement_not_current",
        "message": "只能同意当前版本（第 2 版）的预约协议。",
    }
    accepted = api.call("POST", "/citizen/agreement", {"version": 2}, token=token)
    assert accepted.status_code == 200
    assert (accepted.json()["agreement_version"], accepted.json()["current_agreement_version"]) == (
        2,
        2,
    )
    assert_masked(accepted)
    citizen.refresh_from_db()
    assert citizen.agreement_accepted_at is not None


def test_sign_in_says_which_agreement_version_is_still_to_be_accepted(api, send_code):
    services.agreement_publish(title="预约协议", text="第一版", now=clock.now())
    now = clock.now() - timedelta(minutes=2)
    signed_in = api.call("POST", "/citizen/sign-in", {"mobile": MOBILE, "code": send_code(now=now)})
    assert signed_in.json()["agreement_version_required"] == 1
    token = signed_in.json()["token"]
    assert api.call("POST", "/citizen/agreement", {"version": 1}, token=token).status_code == 200
    again = api.call("POST", "/citizen/sign-in", {"mobile": MOBILE, "code": send_code()})
    assert again.json()["agreement_version_required"] == 0


def test_the_profile_shows_the_end_of_a_blacklisting(api, citizen, token, admin_user):
    now = clock.now().replace(microsecond=0)
    entry = services.blacklist_add(
        citizen=citizen, days=7, reason="多次爽约", by_user_id=admin_user.pk, now=now
    )
    profile = api.call("GET", "/citizen/profile", token=token).json()
    assert datetime.fromisoformat(profile["blacklisted_until"]) == entry.ends_at


def test_profile_endpoints_need_a_citizen_token(api):
    for method, path in [
        ("GET", "/citizen/profile"),
        ("PUT", "/citizen/profile"),
        ("POST", "/citizen/agreement"),
        ("POST", "/citizen/sign-out"),
    ]:
        answer = api.call(method, path, {"name": "张三", "id_number": ID_NUMBER, "version": 1})
        assert answer.status_code == 401, path
