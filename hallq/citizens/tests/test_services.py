"""Violations and the blacklist rule, administrators' blacklist entries, audited access to
personal data, lookups by ID number, and what the database really holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import FieldError
from django.db import connection, transaction

from hallq.citizens import services
from hallq.citizens.locks import lock_citizen
from hallq.citizens.models import (
    BlacklistEntry,
    Citizen,
    PersonalDataAccess,
    Violation,
    ViolationKind,
)
from hallq.citizens.selectors import blacklisted_until, citizen_by_id_number
from hallq.citizens.tests.factories import make_citizen
from hallq.common import clock
from hallq.common.errors import Conflict, InvalidInput

pytestmark = pytest.mark.django_db

ID_NUMBER = "11010519491231002X"
NO_SHOW = ViolationKind.NO_SHOW


def record(citizen, appointment_id, now, kind=NO_SHOW):
    # As the booking app calls it: in its transaction, under the citizen's lock.
    with transaction.atomic():
        lock_citizen(citizen.pk)
        return services.violation_record(
            citizen=citizen, kind=kind, appointment_id=appointment_id, now=now
        )


def test_the_third_violation_within_90_days_blacklists_for_90_days():
    citizen = make_citizen()
    now = clock.now()
    assert record(citizen, 1, now - timedelta(days=80)) is None
    assert record(citizen, 2, now - timedelta(days=30), ViolationKind.LATE_CANCELLATION) is None
    entry = record(citizen, 3, now)
    assert entry is not None
    assert (entry.starts_at, entry.ends_at, entry.automatic) == (
        now,
        now + timedelta(days=90),
        True,
    )
    assert entry.reason == "90 天内违约 3 次"
    assert blacklisted_until(citizen_id=citizen.pk, now=now) == now + timedelta(days=90)


def test_recording_the_same_appointment_again_records_nothing():
    citizen = make_citizen()
    now = clock.now()
    record(citizen, 1, now)
    record(citizen, 2, now)
    assert record(citizen, 2, now + timedelta(minutes=1)) is None
    assert record(citizen, 2, now + timedelta(minutes=2)) is None
    assert Violation.objects.count() == 2
    assert BlacklistEntry.objects.count() == 0
    assert record(citizen, 3, now) is not None
    assert record(citizen, 3, now) is None
    assert BlacklistEntry.objects.count() == 1


def test_violations_older_than_the_window_do_not_count():
    citizen = make_citizen()
    now = clock.now()
    record(citizen, 1, now - timedelta(days=90))
    record(citizen, 2, now - timedelta(days=10))
    assert record(citizen, 3, now) is None


def test_a_blacklisting_ends_by_itself():
    citizen = make_citizen()
    now = clock.now()
    for appointment in (1, 2, 3):
        record(citizen, appointment, now)
    ends = now + timedelta(days=90)
    assert blacklisted_until(citizen_id=citizen.pk, now=ends - timedelta(seconds=1)) == ends
    assert blacklisted_until(citizen_id=citizen.pk, now=ends) is None


def test_a_citizen_already_blacklisted_gets_no_second_entry():
    citizen = make_citizen()
    now = clock.now()
    for appointment in (1, 2, 3):
        record(citizen, appointment, now)
    assert record(citizen, 4, now + timedelta(days=1)) is None
    assert BlacklistEntry.objects.count() == 1
    assert Violation.objects.count() == 4


def test_the_policy_comes_from_the_settings(settings):
    settings.HALLQ_BLACKLIST_VIOLATIONS = 2
    settings.HALLQ_BLACKLIST_WINDOW_DAYS = 30
    settings.HALLQ_BLACKLIST_DAYS = 7
    citizen = make_citizen()
    now = clock.now()
    record(citizen, 1, now - timedelta(days=29))
    entry = record(citizen, 2, now)
    assert entry is not None
    assert entry.ends_at == now + timedelta(days=7)
    assert entry.reason == "30 天内违约 2 次"


def test_administrators_add_and_lift_entries_with_a_reason(admin_user):
    citizen = make_citizen()
    now = clock.now()
    entry = services.blacklist_add(
        citizen=citizen, days=30, reason=" 冒用他人身份 ", by_user_id=admin_user.pk, now=now
    )
    assert (entry.reason, entry.automatic, entry.created_by_id) == (
        "冒用他人身份",
        False,
        admin_user.pk,
    )
    assert blacklisted_until(citizen_id=citizen.pk, now=now) == now + timedelta(days=30)

    later = now + timedelta(days=1)
    lifted = services.blacklist_lift(
        entry=entry, reason="经核实系误登记", by_user_id=admin_user.pk, now=later
    )
    assert (lifted.lifted_at, lifted.lifted_by_id, lifted.lift_reason) == (
        later,
        admin_user.pk,
        "经核实系误登记",
    )
    assert blacklisted_until(citizen_id=citizen.pk, now=later) is None
    with pytest.raises(Conflict) as refused:
        services.blacklist_lift(entry=entry, reason="再次", by_user_id=admin_user.pk, now=later)
    assert refused.value.code == "blacklist_entry_over"


def test_a_blacklisting_needs_a_reason_and_a_sensible_length(admin_user):
    citizen = make_citizen()
    with pytest.raises(InvalidInput) as refused:
        services.blacklist_add(
            citizen=citizen, days=30, reason="  ", by_user_id=admin_user.pk, now=clock.now()
        )
    assert (refused.value.code, str(refused.value.message)) == (
        "reason",
        "请填写原因（最多 200 个字）。",
    )
    with pytest.raises(InvalidInput) as refused:
        services.blacklist_add(
            citizen=citizen, days=0, reason="原因", by_user_id=admin_user.pk, now=clock.now()
        )
    assert refused.value.code == "blacklist_days"
    assert BlacklistEntry.objects.count() == 0


def test_an_ended_entry_cannot_be_lifted(admin_user):
    citizen = make_citizen()
    now = clock.now()
    entry = services.blacklist_add(
        citizen=citizen, days=1, reason="原因", by_user_id=admin_user.pk, now=now
    )
    with pytest.raises(Conflict):
        services.blacklist_lift(
            entry=entry, reason="原因", by_user_id=admin_user.pk, now=now + timedelta(days=1)
        )


def test_revealing_personal_data_is_audited(admin_user):
    citizen = make_citizen(name="张三", id_number=ID_NUMBER)
    now = clock.now()
    assert (
        services.personal_data_reveal(
            user_id=admin_user.pk, citizen=citizen, field="id_number", purpose="核验身份", now=now
        )
        == ID_NUMBER
    )
    assert (
        services.personal_data_reveal(
            user_id=admin_user.pk, citizen=citizen, field="mobile", purpose="电话回访", now=now
        )
        == "13812345678"
    )
    assert list(
        PersonalDataAccess.objects.order_by("pk").values_list(
            "user_id", "citizen_id", "field", "purpose", "at"
        )
    ) == [
        (admin_user.pk, citizen.pk, "id_number", "核验身份", now),
        (admin_user.pk, citizen.pk, "mobile", "电话回访", now),
    ]


def test_revealing_needs_a_purpose_and_a_known_field(admin_user):
    citizen = make_citizen(name="张三", id_number=ID_NUMBER)
    with pytest.raises(InvalidInput) as refused:
        services.personal_data_reveal(
            user_id=admin_user.pk, citizen=citizen, field="id_number", purpose=" ", now=clock.now()
        )
    assert refused.value.code == "purpose"
    with pytest.raises(InvalidInput) as refused:
        services.personal_data_reveal(
            user_id=admin_user.pk,
            citizen=citizen,
            field="name",  # type: ignore[arg-type]
            purpose="核验",
            now=clock.now(),
        )
    assert refused.value.code == "field"
    assert PersonalDataAccess.objects.count() == 0


def test_a_citizen_is_found_by_id_number_as_typed_at_a_kiosk():
    citizen = make_citizen(name="张三", id_number=ID_NUMBER)
    make_citizen("13900000000", name="李四", id_number="110101199003074514")
    assert citizen_by_id_number("110105 19491231 002x") == citizen
    assert citizen_by_id_number("360426199101010071") is None
    assert citizen_by_id_number("") is None


def test_agreement_versions_count_up():
    now = clock.now()
    first = services.agreement_publish(title=" 预约协议 ", text="正文", now=now)
    second = services.agreement_publish(title="预约协议", text="新正文", now=now)
    assert (first.version, first.title, second.version) == (1, "预约协议", 2)
    with pytest.raises(InvalidInput) as refused:
        services.agreement_publish(title="", text="正文", now=now)
    assert refused.value.code == "agreement"


def test_the_database_holds_no_plaintext_id_or_mobile_number():
    citizen = make_citizen()
    services.citizen_register(citizen=citizen, name="张三", id_number=ID_NUMBER, now=clock.now())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, id_number, id_number_index, mobile, mobile_index FROM citizens_citizen"
        )
        [row] = cursor.fetchall()
    name, *protected = row
    assert name == "张三"
    assert protected[0].startswith("v1:")
    assert protected[2].startswith("v1:")
    for stored in protected:
        for secret in (ID_NUMBER, ID_NUMBER[:17], "13812345678", "19491231"):
            assert secret not in stored
    assert Citizen.objects.get().id_number == ID_NUMBER


def test_encrypted_columns_refuse_lookups_that_could_never_match():
    with pytest.raises(FieldError):
        Citizen.objects.filter(mobile="13812345678")
    with pytest.raises(FieldError):
        Citizen.objects.filter(id_number__startswith="110")
    assert list(Citizen.objects.filter(mobile__isnull=True)) == []
