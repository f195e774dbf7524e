from __future__ import annotations

from datetime import date

import pytest
from stdnum.cn.ric import calc_check_digit

from hallq.citizens.domain.identity import (
    IdentityError,
    birth_date,
    mask_id_number,
    mask_mobile,
    normalise_id_number,
    validate_id_number,
    validate_mobile,
)

TODAY = date(2026, 3, 2)


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002X",  # GB 11643's own examples
        "360426199101010071",
        "110101199003074514",
        "810000199001010019",  # a Hong Kong resident's residence permit
    ],
)
def test_valid_id_numbers_come_back_normalised(number):
    assert validate_id_number(number, today=TODAY) == number


def test_the_standards_1880_example_is_refused_only_for_its_birth_year():
    # GB 11643's second example; stdnum's validate() would refuse it for its county code too.
    # Nobody born before 1900 books an appointment: the product's lower bound wins.
    assert calc_check_digit("440524188001010014") == "4"
    with pytest.raises(IdentityError) as raised:
        validate_id_number("440524188001010014", today=TODAY)
    assert raised.value.code == "id_birth_date"


def test_spaces_full_width_characters_and_a_small_x_are_normalised():
    assert validate_id_number(" 110105 19491231 002x ", today=TODAY) == "11010519491231002X"
    assert validate_id_number("１１０１０５１９４９１２３１００２Ｘ", today=TODAY) == (
        "11010519491231002X"
    )
    assert normalise_id_number("110105 19491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("110105194912310021", "id_check_digit"),
        ("11010519491231002", "id_format"),
        ("1101051949123100200", "id_format"),
        ("11010519491231002Y", "id_format"),
        ("X10105194912310021", "id_format"),
        ("", "id_format"),
        ("110105194902300027", "id_birth_date"),  # 30 February
        ("110105189912310021", "id_birth_date"),  # before 1900
        ("110105202603030021", "id_birth_date"),  # tomorrow
        ("990105194912310021", "id_province"),
        ("100105194912310021", "id_province"),
        ("710105194912310021", "id_province"),  # Taiwan's GB/T 2260 code is not issued
    ],
)
def test_invalid_id_numbers_say_why(number, code):
    with pytest.raises(IdentityError) as raised:
        validate_id_number(number, today=TODAY)
    assert raised.value.code == code


def test_a_birth_date_of_today_is_accepted():
    # 2026-03-02 with the check digit that makes it valid.
    number = "11010520260302002"
    full = number + calc_check_digit(number + "0")
    assert validate_id_number(full, today=TODAY) == full
    with pytest.raises(IdentityError) as raised:
        validate_id_number(full, today=date(2026, 3, 1))
    assert raised.value.code == "id_birth_date"


def test_the_birth_date_is_read_from_the_number():
    assert birth_date("11010519491231002X") == date(1949, 12, 31)
    assert birth_date("440524188001010014") == date(1880, 1, 1)


@pytest.mark.parametrize(
    "text",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+8613812345678",
        "+86 138 1234 5678",
        "008613812345678",
        "8613812345678",
        "１３８１２３４５６７８",
    ],
)
def test_mobile_numbers_as_people_type_them(text):
    assert validate_mobile(text) == "13812345678"


@pytest.mark.parametrize(
    "text",
    ["", "1381234567", "138123456789", "12812345678", "23812345678", "+8512812345678", "abc"],
)
def test_invalid_mobile_numbers(text):
    with pytest.raises(IdentityError) as raised:
        validate_mobile(text)
    assert raised.value.code == "mobile_format"


def test_masks_hide_the_birth_date_and_the_middle_of_the_mobile_number():
    assert mask_id_number("110101199003074514") == "110101********4514"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_mobile("13812345678") == "138****5678"
