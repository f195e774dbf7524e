"""Races with real threads on the real database (each thread its own connection, released
together by a barrier): codes, first sign-ins, registrations and violations never double up."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import transaction

from hallq.citizens import services
from hallq.citizens.locks import lock_citizen
from hallq.citizens.models import (
    BlacklistEntry,
    Citizen,
    CitizenToken,
    SignInCode,
    Violation,
    ViolationKind,
)
from hallq.citizens.tests.factories import make_citizen
from hallq.common import clock
from hallq.common.errors import HallqError
from hallq.common.testing import race

pytestmark = pytest.mark.django_db(transaction=True)

MOBILE = "13812345678"
ID_NUMBER = "110101199003074514"


def outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except HallqError as refused:
        return refused.code
    return "ok"


def test_codes_requested_at_once_send_one(outbox):
    now = clock.now()
    results = race(8, lambda _: outcome(lambda: services.sign_in_code_send(mobile=MOBILE, now=now)))
    assert sorted(results) == ["ok"] + ["sign_in_code_too_soon"] * 7
    assert SignInCode.objects.count() == 1
    assert len(outbox) == 1


def test_first_sign_ins_at_once_with_different_codes_make_one_citizen(outbox):
    start = clock.now() - timedelta(minutes=4)
    for minute in range(4):
        services.sign_in_code_send(mobile=MOBILE, now=start + timedelta(minutes=minute))
    codes = [message.params["code"] for message in outbox]
    now = clock.now()

    def sign_in(index: int) -> int:
        citizen, _token = services.sign_in(mobile=MOBILE, code=codes[index], now=now)
        return citizen.pk

    citizens = race(4, sign_in)
    assert Citizen.objects.count() == 1
    assert set(citizens) == {Citizen.objects.get().pk}
    assert CitizenToken.objects.count() == 4


def test_one_code_entered_at_once_signs_in_once(outbox):
    services.sign_in_code_send(mobile=MOBILE, now=clock.now())
    code = outbox[0].params["code"]
    now = clock.now()
    results = race(
        8, lambda _: outcome(lambda: services.sign_in(mobile=MOBILE, code=code, now=now))
    )
    assert sorted(results) == ["ok"] + ["sign_in_code_invalid"] * 7
    assert CitizenToken.objects.count() == 1


def test_one_id_number_registered_by_two_citizens_at_once_goes_to_one():
    citizens = [make_citizen("13812345678"), make_citizen("13900001111")]
    now = clock.now()

    def register(index: int) -> str:
        return outcome(
            lambda: services.citizen_register(
                citizen=citizens[index], name="张三", id_number=ID_NUMBER, now=now
            )
        )

    assert sorted(race(2, register)) == ["id_number_taken", "ok"]
    assert Citizen.objects.filter(id_number_index__isnull=False).count() == 1


def test_violations_recorded_at_once_blacklist_once():
    citizen = make_citizen()
    now = clock.now()

    def no_show(index: int) -> bool:
        with transaction.atomic():
            lock_citizen(citizen.pk)
            entry = services.violation_record(
                citizen=citizen, kind=ViolationKind.NO_SHOW, appointment_id=index, now=now
            )
        return entry is not None

    results = Tally(race(6, no_show))
    assert results == Tally({False: 5, True: 1})
    assert Violation.objects.count() == 6
    assert BlacklistEntry.objects.count() == 1


def test_the_same_violation_recorded_at_once_counts_once():
    citizen = make_citizen()
    now = clock.now()

    def no_show(_: int) -> None:
        services.violation_record(
            citizen=citizen, kind=ViolationKind.NO_SHOW, appointment_id=7, now=now
        )

    race(6, no_show)
    assert Violation.objects.count() == 1
