"""Resident ID numbers (GB 11643-1999) and mainland mobile numbers: validation and masking.

An ID number is a 6-digit address code, the birth date as ``YYYYMMDD``, a 3-digit sequence and a
check character. Only the check character comes from python-stdnum: its ``validate()`` also
checks the birth year against the county code's lifetime, which rejects real people registered
after their county was renamed (research notes §5). The address is checked only as far as its
province.

Masking follows GB/T 35273 §7.2: an ID number keeps its first 6 and last 4 characters (hiding the
birth date), a mobile number its first 3 and last 4 digits.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from stdnum.cn.ric import calc_check_digit

# The two-digit province codes of GB/T 2260, and 81–83 of the residence permits of Hong Kong,
# Macau and Taiwan residents.
PROVINCE_CODES = frozenset(
    code
    for first, last in ((11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65), (81, 83))
    for code in range(first, last + 1)
)
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

ID_NUMBER_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
MOBILE_SHAPE = re.compile(r"1[3-9][0-9]{9}")
MOBILE_COUNTRY_PREFIXES = ("+86", "0086", "86")


class IdentityError(ValueError):
    """The number is not valid; ``code`` says why (the API's error code)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _plain(text: str) -> str:
    # Chinese input methods often give full-width digits and letters (１２３Ｘ).
    return unicodedata.normalize("NFKC", text)


def normalise_id_number(text: str) -> str:
    """The number as typed, without spaces and with an upper-case X: the form to look up."""
    return "".join(_plain(text).split()).upper()


def validate_id_number(text: str, *, today: date) -> str:
    number = normalise_id_number(text)
    if not ID_NUMBER_SHAPE.fullmatch(number):
        raise IdentityError("id_format")
    if int(number[:2]) not in PROVINCE_CODES:
        raise IdentityError("id_province")
    try:
        born = birth_date(number)
    except ValueError:
        raise IdentityError("id_birth_date") from None
    if not EARLIEST_BIRTH_DATE <= born <= today:
        raise IdentityError("id_birth_date")
    if calc_check_digit(number) != number[17]:
        raise IdentityError("id_check_digit")
    return number


def birth_date(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def validate_mobile(text: str) -> str:
    """11 digits; spaces, dashes and the country code +86 (or 0086, 86) may be typed."""
    number = re.sub(r"[\s\-]", "", _plain(text))
    for prefix in MOBILE_COUNTRY_PREFIXES:
        if number.startswith(prefix) and len(number) == len(prefix) + 11:
            number = number.removeprefix(prefix)
            break
    if not MOBILE_SHAPE.fullmatch(number):
        raise IdentityError("mobile_format")
    return number


def mask_id_number(id_number: str) -> str:
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def mask_mobile(mobile: str) -> str:
    return mobile[:3] + "*" * (len(mobile) - 7) + mobile[-4:]
