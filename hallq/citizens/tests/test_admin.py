"""Citizens in the back office: a hall administrator sees those who booked in their halls, with
numbers masked; revealing one is audited; the blacklist and the agreement change through the
services."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client

from hallq.citizens import admin as citizens_admin
from hallq.citizens.models import Agreement, BlacklistEntry, Citizen, PersonalDataAccess
from hallq.citizens.services import blacklist_add
from hallq.citizens.tests.factories import make_citizen
from hallq.common import clock
from hallq.common.errors import Conflict
from hallq.halls.models import HallMembership, Service

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 8, tzinfo=SHANGHAI)
ID_NUMBERS = ["11010119800101001X", "110101198001020016"]
MOBILES = ["13812345678", "13987654321"]


@pytest.fixture
def hall_admin(client: Client, demo: dict[str, Any]) -> Client:
    user = get_user_model().objects.create_user("hall1-admin", password="x", is_staff=True)
    HallMembership.objects.create(user=user, hall_id=demo["halls"][0]["id"], is_hall_admin=True)
    client.force_login(user)
    return client


@pytest.fixture
def superuser(demo: dict[str, Any]) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def user_id(username: str) -> int:
    return int(get_user_model().objects.get(username=username).pk)


def book(citizen: Citizen, hall_id: int, code: str) -> None:
    # Booking sits above citizens (import-linter): reach its tables by name, as the admin's
    # reverse relation does.
    slot_model, appointment_model = (
        apps.get_model("booking", "Slot"),
        apps.get_model("booking", "Appointment"),
    )
    service = Service.objects.get(hall_id=hall_id, prefix="A")
    starts_at = datetime(2026, 12, 7, 9, tzinfo=SHANGHAI)
    slot, _created = slot_model.objects.get_or_create(
        service=service,
        starts_at=starts_at,
        defaults={
            "hall_id": hall_id,
            "date": starts_at.date(),
            "ends_at": starts_at + timedelta(minutes=30),
            "quota": 5,
        },
    )
    appointment_model.objects.create(
        citizen=citizen,
        hall_id=hall_id,
        service=service,
        slot=slot,
        date=slot.date,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        booking_code=code,
        channel="web",
        created_at=NOW,
    )


@pytest.fixture
def citizens(demo: dict[str, Any]) -> dict[str, Citizen]:
    """One citizen who booked in the first hall, one who booked in the second."""
    own = make_citizen(MOBILES[0], name="张三", id_number=ID_NUMBERS[0], now=NOW)
    other = make_citizen(MOBILES[1], name="李四", id_number=ID_NUMBERS[1], now=NOW)
    book(own, demo["halls"][0]["id"], "1000000001")
    book(other, demo["halls"][1]["id"], "1000000002")
    return {"own": own, "other": other}


def assert_no_personal_data(content: bytes) -> None:
    for number in [*ID_NUMBERS, *MOBILES]:
        assert number.encode() not in content


# -- seeing citizens --------------------------------------------------------------------------


def test_a_hall_administrator_lists_only_citizens_who_booked_in_their_halls_masked(
    hall_admin: Client, citizens: dict[str, Citizen]
):
    response = hall_admin.get("/admin/citizens/citizen/")
    page = response.content.decode()
    assert f"/admin/citizens/citizen/{citizens['own'].pk}/change/" in page
    assert f"/admin/citizens/citizen/{citizens['other'].pk}/change/" not in page
    assert '<td class="field-id_number_masked">110101********001X</td>' in page
    assert '<td class="field-mobile_masked">138****5678</td>' in page
    assert "李四" not in page
    assert_no_personal_data(response.content)


def test_a_superuser_lists_every_citizen(superuser: Client, citizens: dict[str, Citizen]):
    response = superuser.get("/admin/citizens/citizen/")
    page = response.content.decode()
    assert page.count('<td class="field-id_number_masked">') == 2
    assert_no_personal_data(response.content)


def test_a_citizens_page_masks_numbers_and_another_halls_citizen_is_not_found(
    hall_admin: Client, citizens: dict[str, Citizen]
):
    response = hall_admin.get(f"/admin/citizens/citizen/{citizens['own'].pk}/change/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "110101********001X" in page
    assert "138****5678" in page
    assert f"/admin/citizens/citizen/{citizens['own'].pk}/reveal/" in page
    assert_no_personal_data(response.content)
    other = hall_admin.get(f"/admin/citizens/citizen/{citizens['other'].pk}/change/")
    assert other.status_code == 302


@pytest.mark.parametrize(
    ("term", "found"), [(ID_NUMBERS[0].lower(), True), ("13812345678", True), ("138123", False)]
)
def test_citizens_are_searched_by_whole_numbers(
    hall_admin: Client, citizens: dict[str, Citizen], term: str, found: bool
):
    page = hall_admin.get("/admin/citizens/citizen/", {"q": term}).content.decode()
    assert ('<td class="field-id_number_masked">110101********001X</td>' in page) is found


# -- revealing a number -----------------------------------------------------------------------


def test_revealing_a_number_asks_why_records_the_look_and_shows_it_once(
    hall_admin: Client, citizens: dict[str, Citizen], caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    url = f"/admin/citizens/citizen/{citizens['own'].pk}/reveal/"
    form = hall_admin.get(url)
    assert form.status_code == 200
    assert_no_personal_data(form.content)
    assert not PersonalDataAccess.objects.exists()

    response = hall_admin.post(url, {"field": "id_number", "purpose": "核对身份办理补约"})

    assert f'<strong id="revealed-value">{ID_NUMBERS[0]}</strong>' in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    access = PersonalDataAccess.objects.get()
    assert (access.user.username, access.citizen_id, access.field, access.purpose) == (
        "hall1-admin",
        citizens["own"].pk,
        "id_number",
        "核对身份办理补约",
    )
    assert ID_NUMBERS[0] not in caplog.text
    assert not LogEntry.objects.exists()  # the audit is PersonalDataAccess, without the value


def test_revealing_without_a_purpose_shows_nothing_and_records_nothing(
    hall_admin: Client, citizens: dict[str, Citizen]
):
    response = hall_admin.post(
        f"/admin/citizens/citizen/{citizens['own'].pk}/reveal/", {"field": "mobile"}
    )
    assert response.status_code == 200
    assert_no_personal_data(response.content)
    assert not PersonalDataAccess.objects.exists()


def test_another_halls_citizen_cannot_be_revealed(hall_admin: Client, citizens: dict[str, Citizen]):
    response = hall_admin.post(
        f"/admin/citizens/citizen/{citizens['other'].pk}/reveal/",
        {"field": "mobile", "purpose": "好奇"},
    )
    assert response.status_code == 404
    assert_no_personal_data(response.content)
    assert not PersonalDataAccess.objects.exists()


def test_only_superusers_read_the_audit_of_looks(hall_admin: Client, superuser: Client, citizens):
    assert hall_admin.get("/admin/citizens/personaldataaccess/").status_code == 403
    assert superuser.get("/admin/citizens/personaldataaccess/").status_code == 200


# -- the blacklist ----------------------------------------------------------------------------


def test_a_hall_administrator_blacklists_a_citizen_with_a_reason(
    hall_admin: Client, citizens: dict[str, Citizen]
):
    response = hall_admin.post(
        "/admin/citizens/blacklistentry/add/",
        {"citizen": citizens["own"].pk, "days": 30, "reason": "多次恶意占号"},
    )

    assert response.status_code == 302
    entry = BlacklistEntry.objects.get()
    assert (entry.citizen_id, entry.reason, entry.automatic, entry.created_by_id) == (
        citizens["own"].pk,
        "多次恶意占号",
        False,
        user_id("hall1-admin"),
    )
    assert entry.ends_at - entry.starts_at == timedelta(days=30)
    logged = LogEntry.objects.get()
    assert logged.object_repr == f"citizen {citizens['own'].pk} until {entry.ends_at:%Y-%m-%d}"
    page = hall_admin.get("/admin/citizens/blacklistentry/").content.decode()
    assert f"/admin/citizens/blacklistentry/{entry.pk}/lift/" in page
    assert_no_personal_data(
        hall_admin.get(f"/admin/citizens/blacklistentry/{entry.pk}/change/").content
    )


def test_another_halls_citizen_cannot_be_blacklisted_by_a_hall_administrator(
    hall_admin: Client, citizens: dict[str, Citizen]
):
    response = hall_admin.post(
        "/admin/citizens/blacklistentry/add/",
        {"citizen": citizens["other"].pk, "days": 30, "reason": "多次恶意占号"},
    )
    assert response.status_code == 200
    assert not BlacklistEntry.objects.exists()


def test_a_blacklisting_is_lifted_once_with_a_reason(
    hall_admin: Client, citizens: dict[str, Citizen]
):
    entry = blacklist_add(
        citizen=citizens["own"],
        days=90,
        reason="三次爽约",
        by_user_id=user_id("admin"),
        now=clock.now(),
    )
    url = f"/admin/citizens/blacklistentry/{entry.pk}/lift/"

    response = hall_admin.post(url, {"reason": "系统故障导致误判"})

    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.lifted_at is not None
    assert (entry.lift_reason, entry.lifted_by_id) == ("系统故障导致误判", user_id("hall1-admin"))
    again = hall_admin.post(url, {"reason": "再次解除"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "This blacklist entry has already been lifted or has ended." in again.content.decode()
    entry.refresh_from_db()
    assert entry.lift_reason == "系统故障导致误判"
    page = hall_admin.get("/admin/citizens/blacklistentry/").content.decode()
    assert url not in page


def test_another_halls_blacklisting_is_not_lifted_by_a_hall_administrator(
    hall_admin: Client, citizens: dict[str, Citizen]
):
    entry = blacklist_add(
        citizen=citizens["other"],
        days=90,
        reason="三次爽约",
        by_user_id=user_id("admin"),
        now=clock.now(),
    )
    response = hall_admin.post(
        f"/admin/citizens/blacklistentry/{entry.pk}/lift/", {"reason": "求情"}
    )
    assert response.status_code == 404
    entry.refresh_from_db()
    assert entry.lifted_at is None


# -- the booking agreement --------------------------------------------------------------------


def test_publishing_the_agreement_creates_the_next_version(superuser: Client, demo):
    first = Agreement.objects.create(
        version=1, title="预约服务协议", text="第一版", published_at=NOW
    )

    response = superuser.post(
        "/admin/citizens/agreement/add/",
        {"title": "预约服务协议", "text": "第二版：爽约三次将暂停预约。"},
    )

    assert response.status_code == 302
    assert list(Agreement.objects.values_list("version", "text")) == [
        (2, "第二版：爽约三次将暂停预约。"),
        (1, "第一版"),
    ]
    assert superuser.post(f"/admin/citizens/agreement/{first.pk}/change/").status_code == 403
    assert Agreement.objects.get(pk=first.pk).text == "第一版"


def test_a_hall_administrator_reads_the_agreement_but_does_not_publish_it(hall_admin: Client, demo):
    Agreement.objects.create(version=1, title="预约服务协议", text="第一版", published_at=NOW)
    assert hall_admin.get("/admin/citizens/agreement/").status_code == 200
    assert hall_admin.get("/admin/citizens/agreement/add/").status_code == 403
    response = hall_admin.post("/admin/citizens/agreement/add/", {"title": "x", "text": "y"})
    assert response.status_code == 403
    assert Agreement.objects.count() == 1


def test_a_publication_refused_by_the_service_is_a_message_and_saves_nothing(
    superuser: Client, demo, monkeypatch: pytest.MonkeyPatch
):
    def refuse(**kwargs: Any) -> Agreement:
        raise Conflict("Another version of the agreement was published at the same moment.")

    monkeypatch.setattr(citizens_admin, "agreement_publish", refuse)

    response = superuser.post(
        "/admin/citizens/agreement/add/", {"title": "预约服务协议", "text": "第二版"}, follow=True
    )

    assert response.redirect_chain == [("/admin/citizens/agreement/add/", 302)]
    assert "published at the same moment" in response.content.decode()
    assert not Agreement.objects.exists()
    assert not LogEntry.objects.exists()
