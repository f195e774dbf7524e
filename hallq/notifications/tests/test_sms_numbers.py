"""Mobile numbers as each SMS vendor wants them, and the order of Tencent's parameters."""

from __future__ import annotations

import pytest

from hallq.common import sms


@pytest.mark.parametrize(
    "written",
    [
        "13812345678",
        "+8613812345678",
        "8613812345678",
        "008613812345678",
        "138-1234-5678",
        "+86 138 1234 5678",
    ],
)
def test_the_ways_people_write_a_mainland_mobile_number(written):
    assert sms.e164(written) == "+8613812345678"
    assert sms.aliyun_phone(written) == "13812345678"


def test_a_number_outside_the_mainland_keeps_its_country_code():
    assert sms.e164("+85291234567") == "+85291234567"
    assert sms.aliyun_phone("+85291234567") == "85291234567"


@pytest.mark.parametrize("written", ["", "12345", "+86123", "+8623812345678", "abc13812345678"])
def test_what_is_not_a_mobile_number_is_refused(written):
    with pytest.raises(sms.InvalidPhone):
        sms.e164(written)


def test_tencents_ordered_parameters_follow_the_template_text():
    assert sms.template_parameter_order(
        "call", {"service": "社保", "counter": "3号窗口", "number": "A012"}
    ) == ["number", "counter", "service"]
    assert sms.template_parameter_order("unknown", {"b": "1", "a": "2"}) == ["b", "a"]
