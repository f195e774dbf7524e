"""Slots and appointments in the back office: scoped to the user's halls, read-only, citizens'
numbers masked on every page and in the export, searched only by whole numbers."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from hallq.booking.models import Appointment, Slot
from hallq.booking.services import appointment_book, appointment_cancel, slots_materialise
from hallq.booking.tests.factories import id_number_for, make_citizen, make_slot
from hallq.common import clock
from hallq.halls.models import Hall, HallMembership, Service
from hallq.scheduling.models import SlotTemplate, Weekday

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 8, tzinfo=SHANGHAI)
SLOT_START = datetime(2026, 12, 7, 9, tzinfo=SHANGHAI)


@pytest.fixture
def hall_admin(client: Client, demo: dict[str, Any]) -> Client:
    user = get_user_model().objects.create_user("hall1-admin", password="x", is_staff=True)
    HallMembership.objects.create(user=user, hall_id=demo["halls"][0]["id"], is_hall_admin=True)
    client.force_login(user)
    return client


@pytest.fixture
def booked(demo: dict[str, Any]) -> dict[str, Appointment]:
    """One appointment in the first hall (its slot has 3 places) and one in the second."""
    appointments = {}
    for hall, index in (("own", 0), ("other", 1)):
        service = Service.objects.get(hall_id=demo["halls"][index]["id"], prefix="A")
        slot = make_slot(service, SLOT_START, quota=3)
        citizen = make_citizen(index + 1, now=NOW)
        appointments[hall] = appointment_book(citizen=citizen, slot=slot, channel="web", now=NOW)
    return appointments


def masked(index: int) -> tuple[str, str]:
    id_number = id_number_for(index)
    return f"110101********{id_number[-4:]}", f"138****{index:08d}"[:7] + f"{index:08d}"[-4:]


def assert_no_personal_data(content: bytes, *indexes: int) -> None:
    for index in indexes:
        assert id_number_for(index).encode() not in content
        assert f"138{index:08d}".encode() not in content


def test_the_slot_list_shows_places_booked_and_left_of_the_users_halls_only(
    hall_admin: Client, booked: dict[str, Appointment]
):
    page = hall_admin.get("/admin/booking/slot/").content.decode()
    own, other = booked["own"].slot_id, booked["other"].slot_id
    assert f"/admin/booking/slot/{own}/change/" in page
    assert f"/admin/booking/slot/{other}/change/" not in page
    assert '<td class="field-places">3</td>' in page
    assert '<td class="field-booked">1</td>' in page
    assert '<td class="field-remaining">2</td>' in page
    assert f'<a href="/admin/booking/slot/{own}/change/">09:00–09:30</a>' in page


def test_a_slot_lists_its_appointments_with_masked_numbers(
    hall_admin: Client, booked: dict[str, Appointment]
):
    response = hall_admin.get(f"/admin/booking/slot/{booked['own'].slot_id}/change/")
    page = response.content.decode()
    masked_id, masked_mobile = masked(1)
    assert response.status_code == 200
    assert booked["own"].booking_code in page
    assert "2026-12-07 09:00–09:30 ×3" in page  # the slot, in the hall's time
    assert "2026-12-07 01:00" not in page  # not in UTC
    assert "市民1" in page
    assert masked_id in page
    assert masked_mobile in page
    assert_no_personal_data(response.content, 1)
    other = hall_admin.get(f"/admin/booking/slot/{booked['other'].slot_id}/change/")
    assert other.status_code == 302


def test_slots_and_appointments_are_read_only(hall_admin: Client, booked):
    slot = booked["own"].slot_id
    assert hall_admin.post(f"/admin/booking/slot/{slot}/change/", {}).status_code == 403
    appointment = booked["own"].pk
    assert hall_admin.post(f"/admin/booking/appointment/{appointment}/change/").status_code == 403
    assert hall_admin.get("/admin/booking/appointment/add/").status_code == 403
    assert Slot.objects.get(pk=slot).quota == 3


def test_the_appointment_list_masks_numbers_and_shows_the_users_halls_only(
    hall_admin: Client, booked: dict[str, Appointment]
):
    response = hall_admin.get("/admin/booking/appointment/")
    page = response.content.decode()
    masked_id, masked_mobile = masked(1)
    assert booked["own"].booking_code in page
    assert booked["other"].booking_code not in page
    assert f'<td class="field-id_number_masked">{masked_id}</td>' in page
    assert f'<td class="field-mobile_masked">{masked_mobile}</td>' in page
    assert '<td class="field-citizen_name">市民1</td>' in page
    assert_no_personal_data(response.content, 1, 2)


def test_an_appointments_page_masks_numbers(hall_admin: Client, booked):
    response = hall_admin.get(f"/admin/booking/appointment/{booked['own'].pk}/change/")
    assert response.status_code == 200
    assert masked(1)[0] in response.content.decode()
    assert_no_personal_data(response.content, 1)
    other = hall_admin.get(f"/admin/booking/appointment/{booked['other'].pk}/change/")
    assert other.status_code == 302


def found(client: Client, query: dict[str, str]) -> list[str]:
    page = client.get("/admin/booking/appointment/", query).content.decode()
    return [
        cell.split(">", 2)[1].split("<")[0] for cell in page.split('<th class="field-code">')[1:]
    ]


@pytest.mark.parametrize(
    "term",
    [
        "booking code",
        "110101198001010010",
        "1101 0119 8001 0100 10",
        "13800000001",
        "+86 138-0000-0001",
    ],
)
def test_an_appointment_is_found_by_its_code_or_the_whole_id_or_mobile_number(
    hall_admin: Client, booked: dict[str, Appointment], term: str
):
    assert id_number_for(1) == "110101198001010010"
    if term == "booking code":
        term = booked["own"].booking_code
    assert found(hall_admin, {"q": term}) == [booked["own"].booking_code]


@pytest.mark.parametrize("term", ["1101011980", "0001", "市民1", "13800000002"])
def test_a_partial_number_or_another_halls_citizen_finds_nothing(
    hall_admin: Client, booked: dict[str, Appointment], term: str
):
    assert found(hall_admin, {"q": term}) == []


def test_appointments_are_filtered_by_state(hall_admin: Client, booked, demo):
    service = Service.objects.get(hall_id=demo["halls"][0]["id"], prefix="A")
    slot = make_slot(service, datetime(2026, 12, 8, 9, tzinfo=SHANGHAI), quota=1)
    cancelled = appointment_book(
        citizen=make_citizen(3, now=NOW), slot=slot, channel="wechat", now=NOW
    )
    appointment_cancel(appointment=cancelled, now=NOW)
    assert found(hall_admin, {"state__exact": "cancelled"}) == [cancelled.booking_code]
    assert found(hall_admin, {"state__exact": "booked"}) == [booked["own"].booking_code]
    assert found(hall_admin, {"date__day": "8", "date__month": "12", "date__year": "2026"}) == [
        cancelled.booking_code
    ]


def test_the_export_is_a_csv_of_the_selected_appointments_with_masked_numbers(
    hall_admin: Client, booked: dict[str, Appointment]
):
    response = hall_admin.post(
        "/admin/booking/appointment/",
        {
            "action": "export_csv",
            "_selected_action": [booked["own"].pk, booked["other"].pk],
            "index": "0",
        },
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert_no_personal_data(response.content, 1, 2)
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    masked_id, masked_mobile = masked(1)
    assert rows[1] == [
        booked["own"].booking_code,
        "东城区政务服务中心",
        "A 综合业务",
        "2026-12-07",
        "09:00–09:30",
        "已预约",
        "网页",
        "市民1",
        masked_id,
        masked_mobile,
        "2026-12-01 08:00",
        "",
    ]
    assert len(rows) == 2  # the other hall's appointment is not exported


def test_the_excel_export_holds_the_same_rows_as_text_with_masked_numbers(
    hall_admin: Client, booked: dict[str, Appointment]
):
    # A name a spreadsheet would take for a formula stays text.
    # A name a workbook cannot hold as it is (a control character) loses that character.
    Hall.objects.filter(pk=booked["own"].hall_id).update(name="=1+1 东城区\x07政务服务中心")
    selected = [booked["own"].pk, booked["other"].pk]

    exported = {
        action: hall_admin.post(
            "/admin/booking/appointment/",
            {"action": action, "_selected_action": selected, "index": "0"},
        )
        for action in ("export_csv", "export_xlsx")
    }

    response = exported["export_xlsx"]
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"].endswith('.xlsx"')
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        for name in archive.namelist():
            assert_no_personal_data(archive.read(name), 1, 2)
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet.title == "预约"
    rows = [[cell.value or "" for cell in row] for row in sheet.iter_rows()]
    # Text cells only (shared or inline strings), never a formula or a number.
    assert {cell.data_type for row in sheet.iter_rows() for cell in row} <= {"s", "inlineStr"}
    as_csv = list(csv.reader(io.StringIO(exported["export_csv"].content.decode("utf-8-sig"))))
    assert rows[0] == as_csv[0]
    assert rows[1][1] == "=1+1 东城区政务服务中心"  # text in a text cell
    assert as_csv[1][1] == "'=1+1 东城区\x07政务服务中心"  # CSV has no cell types: quoted
    assert rows[1][:1] + rows[1][2:] == as_csv[1][:1] + as_csv[1][2:]
    assert rows[1][8:10] == list(masked(1))
    assert len(rows) == 2  # the other hall's appointment is not exported


# -- schedule edits in the back office reach the materialised slots ---------------------------


def weekly_slot(service: Service) -> SlotTemplate:
    return SlotTemplate.objects.create(
        service=service, weekday=Weekday.MONDAY, start=time(9), end=time(9, 30), quota=5
    )


def test_changing_a_weekly_slots_quota_changes_the_places_of_its_materialised_slot(
    hall_admin: Client, demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    service = Service.objects.get(hall_id=demo["halls"][0]["id"], prefix="A")
    template = weekly_slot(service)
    slots_materialise(service=service, dates=[SLOT_START.date()])
    slot = Slot.objects.get(service=service, date=SLOT_START.date())
    assert (slot.quota, slot.places.count()) == (5, 5)

    response = hall_admin.post(
        f"/admin/scheduling/slottemplate/{template.pk}/change/",
        {"service": service.pk, "weekday": 0, "start": "09:00", "end": "09:30", "quota": 3},
    )

    assert response.status_code == 302
    slot.refresh_from_db()
    assert (slot.quota, slot.places.count()) == (3, 3)


def test_closing_a_day_by_override_closes_its_materialised_slots(
    hall_admin: Client, demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    service = Service.objects.get(hall_id=demo["halls"][0]["id"], prefix="A")
    weekly_slot(service)
    slots_materialise(service=service, dates=[SLOT_START.date()])

    response = hall_admin.post(
        "/admin/scheduling/dateoverride/add/",
        {"service": service.pk, "date": "2026-12-07", "kind": "close_day", "note": "系统升级"},
    )

    assert response.status_code == 302
    assert list(Slot.objects.filter(service=service).values_list("is_open", flat=True)) == [False]
