"""JSON text written by orjson (hallq/common/jsontext.py) is what the standard library wrote."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st
from ninja.responses import NinjaJSONEncoder

from hallq.common import jsontext
from hallq.common.api import JSONRenderer

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(0, 99), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_dumps_is_the_standard_librarys_compact_unescaped_text(value):
    written = jsontext.dumps(value)

    assert json.loads(written) == json.loads(
        json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    )


def test_dumps_writes_chinese_as_it_is_and_compactly():
    written = jsontext.dumps({"counter": "3 号窗口", "n": [1, 2]})

    assert written == '{"counter":"3 号窗口","n":[1,2]}'
    assert jsontext.dumps({1: "a"}) == '{"1":"a"}'


def test_the_apis_answers_are_what_djangos_encoder_made_of_them():
    zone = timezone(timedelta(hours=8))
    data = {
        "issued_at": datetime(2026, 11, 27, 8, 30, 1, 123456, tzinfo=UTC),
        "local": datetime(2026, 11, 27, 16, 30, tzinfo=zone),
        "day": date(2026, 11, 27),
        "opens": time(8, 30),
        "fee": Decimal("12.50"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "message": gettext_lazy("Sign in first: a valid bearer token is needed."),
        "service": "社保医保",
        "waiting": [1, 2.5, None, True],
    }

    written = JSONRenderer().render(None, data, response_status=200)  # type: ignore[arg-type]

    assert json.loads(written) == json.loads(json.dumps(data, cls=NinjaJSONEncoder))
    assert json.loads(written)["issued_at"] == "2026-11-27T08:30:01.123Z"  # Django's form
