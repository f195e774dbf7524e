"""Schedules in the back office: a hall administrator edits their own halls' schedules only,
and the national calendar is read by all but confirmed by few. (That the materialised slots follow
an edit is tested with booking, which does it.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client

from hallq.halls.models import HallMembership, Service
from hallq.scheduling.models import (
    BookingRules,
    CalendarDay,
    CalendarYear,
    DateOverride,
    HallDay,
    OverrideKind,
    SlotTemplate,
    Weekday,
)

pytestmark = pytest.mark.django_db

A_MONDAY = date(2026, 12, 7)


@pytest.fixture
def hall_admin(client: Client, demo: dict[str, Any]) -> Client:
    user = get_user_model().objects.create_user("hall1-admin", password="x", is_staff=True)
    HallMembership.objects.create(user=user, hall_id=demo["halls"][0]["id"], is_hall_admin=True)
    client.force_login(user)
    return client


@pytest.fixture
def superuser(client: Client, demo: dict[str, Any]) -> Client:
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def service_of(demo: dict[str, Any], hall: int) -> Service:
    return Service.objects.select_related("hall").get(hall_id=demo["halls"][hall]["id"], prefix="A")


ROWS: dict[str, Callable[[Service], Any]] = {
    "slottemplate": lambda service: SlotTemplate.objects.create(
        service=service, weekday=Weekday.MONDAY, start=time(9), end=time(9, 30), quota=5
    ),
    "dateoverride": lambda service: DateOverride.objects.create(
        service=service, date=A_MONDAY, kind=OverrideKind.CLOSE_DAY
    ),
    "hallday": lambda service: HallDay.objects.create(
        hall=service.hall, date=A_MONDAY, closed=True, reason="停电检修"
    ),
    "bookingrules": lambda service: BookingRules.objects.create(service=service),
}


@pytest.mark.parametrize("model", ROWS)
def test_a_hall_administrator_sees_and_opens_only_their_halls_schedule_rows(
    hall_admin: Client, demo: dict[str, Any], model: str
):
    own = ROWS[model](service_of(demo, 0))
    other = ROWS[model](service_of(demo, 1))
    page = hall_admin.get(f"/admin/scheduling/{model}/").content.decode()
    assert f"/admin/scheduling/{model}/{own.pk}/change/" in page
    assert f"/admin/scheduling/{model}/{other.pk}/change/" not in page
    assert hall_admin.get(f"/admin/scheduling/{model}/{own.pk}/change/").status_code == 200
    # "Doesn't exist": back to the index.
    assert hall_admin.get(f"/admin/scheduling/{model}/{other.pk}/change/").status_code == 302
    assert hall_admin.post(f"/admin/scheduling/{model}/{other.pk}/delete/").status_code == 302
    assert type(other)._default_manager.filter(pk=other.pk).exists()


def test_a_hall_administrator_cannot_change_another_halls_weekly_slot(
    hall_admin: Client, demo: dict[str, Any]
):
    other = ROWS["slottemplate"](service_of(demo, 1))
    response = hall_admin.post(
        f"/admin/scheduling/slottemplate/{other.pk}/change/",
        {"service": other.service_id, "weekday": 0, "start": "09:00", "end": "09:30", "quota": 99},
    )
    assert response.status_code == 302
    assert SlotTemplate.objects.get(pk=other.pk).quota == 5


def test_a_hall_administrator_cannot_add_a_slot_to_another_halls_service(
    hall_admin: Client, demo: dict[str, Any]
):
    other = service_of(demo, 1)
    form = hall_admin.get("/admin/scheduling/slottemplate/add/").content.decode()
    assert f"{demo['halls'][0]['name']} · A 综合业务" in form
    assert demo["halls"][1]["name"] not in form
    response = hall_admin.post(
        "/admin/scheduling/slottemplate/add/",
        {"service": other.pk, "weekday": 0, "start": "09:00", "end": "09:30", "quota": 5},
    )
    assert response.status_code == 200
    assert not SlotTemplate.objects.exists()


def test_a_hall_administrator_deletes_their_own_weekly_slot(hall_admin: Client, demo):
    own = ROWS["slottemplate"](service_of(demo, 0))
    response = hall_admin.post(f"/admin/scheduling/slottemplate/{own.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not SlotTemplate.objects.exists()


def test_an_override_missing_what_its_kind_needs_is_refused_with_a_clear_message(
    hall_admin: Client, demo: dict[str, Any]
):
    response = hall_admin.post(
        "/admin/scheduling/dateoverride/add/",
        {"service": service_of(demo, 0).pk, "date": "2026-12-07", "kind": "add_slot"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("This change needs a value here.") == 3  # start, end, quota
    assert not DateOverride.objects.exists()


def test_the_week_grid_shows_a_services_slots_by_weekday(hall_admin: Client, demo):
    ROWS["slottemplate"](service_of(demo, 0))
    page = hall_admin.get(
        f"/admin/scheduling/slottemplate/week/?service={service_of(demo, 0).pk}"
    ).content.decode()
    assert "09:00–09:30</a> ×5" in page
    assert "星期日" in page
    other = service_of(demo, 1)
    response = hall_admin.get(f"/admin/scheduling/slottemplate/week/?service={other.pk}")
    assert response.status_code == 404


# -- the national calendar --------------------------------------------------------------------


def test_the_calendar_shows_a_make_up_working_day_with_a_link_to_choose_its_template(
    hall_admin: Client, demo: dict[str, Any]
):
    own, other = demo["halls"][0]["id"], demo["halls"][1]["id"]
    response = hall_admin.get("/admin/scheduling/calendarday/calendar/?year=2026")
    page = response.content.decode()
    assert response.status_code == 200
    row = page.split('data-date="2026-02-14"')[1].split("</tr>")[0]
    assert "调休上班日" in row
    assert "春节" in row
    assert (
        f"/admin/scheduling/hallday/add/?hall={own}&amp;date=2026-02-14&amp;template_weekday=0"
        in row
    )
    assert f"hall={other}&amp;" not in page
    assert 'data-date="2026-02-17"' in page  # the Spring Festival itself
    assert 'id="calendar-unknown"' not in page


def test_choosing_a_make_up_days_template_from_the_calendar_link(
    hall_admin: Client, demo: dict[str, Any]
):
    hall = demo["halls"][0]["id"]
    url = f"/admin/scheduling/hallday/add/?hall={hall}&date=2026-02-14&template_weekday=0"
    form = hall_admin.get(url).content.decode()
    assert 'value="2026-02-14"' in form
    assert f'<option value="{hall}" selected>' in form

    response = hall_admin.post(
        url, {"hall": hall, "date": "2026-02-14", "template_weekday": Weekday.FRIDAY}
    )

    assert response.status_code == 302
    assert HallDay.objects.get().template_weekday == Weekday.FRIDAY


def test_a_hall_day_that_neither_closes_nor_chooses_a_template_is_refused(
    hall_admin: Client, demo: dict[str, Any]
):
    response = hall_admin.post(
        "/admin/scheduling/hallday/add/",
        {"hall": demo["halls"][0]["id"], "date": "2026-12-07"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "Close the day, or choose the weekday whose slots it uses." in response.content.decode()
    assert not HallDay.objects.exists()


def test_the_calendar_links_a_make_up_day_to_the_halls_choice_once_made(
    hall_admin: Client, demo: dict[str, Any]
):
    choice = HallDay.objects.create(
        hall_id=demo["halls"][0]["id"], date=date(2026, 2, 14), template_weekday=Weekday.FRIDAY
    )
    page = hall_admin.get("/admin/scheduling/calendarday/calendar/?year=2026").content.decode()
    row = page.split('data-date="2026-02-14"')[1].split("</tr>")[0]
    assert "星期五" in row
    assert f"/admin/scheduling/hallday/{choice.pk}/change/" in row


def test_a_hall_administrator_sees_an_unknown_year_but_cannot_confirm_it(
    hall_admin: Client, demo: dict[str, Any]
):
    page = hall_admin.get("/admin/scheduling/calendarday/calendar/?year=2027").content.decode()
    assert 'id="calendar-unknown"' in page
    assert 'id="confirm-year"' not in page
    response = hall_admin.post("/admin/scheduling/calendarday/calendar/confirm/", {"year": 2027})
    assert response.status_code == 403
    assert not CalendarYear.objects.exists()


def test_a_superuser_confirms_an_unknown_year(superuser: Client, demo: dict[str, Any]):
    page = superuser.get("/admin/scheduling/calendarday/calendar/?year=2027").content.decode()
    assert 'id="calendar-unknown"' in page
    assert 'id="confirm-year"' in page

    response = superuser.post("/admin/scheduling/calendarday/calendar/confirm/", {"year": 2027})

    assert response.status_code == 302
    assert response["Location"] == "/admin/scheduling/calendarday/calendar/?year=2027"
    confirmed = CalendarYear.objects.get()
    admin = get_user_model().objects.get(username="admin")
    assert (confirmed.year, confirmed.confirmed_by_id) == (2027, admin.pk)
    assert LogEntry.objects.get().object_repr == "2027"
    page = superuser.get("/admin/scheduling/calendarday/calendar/?year=2027").content.decode()
    assert 'id="calendar-unknown"' not in page


def test_confirming_a_year_the_library_covers_changes_nothing(superuser: Client, demo):
    response = superuser.post("/admin/scheduling/calendarday/calendar/confirm/", {"year": 2026})
    assert response.status_code == 302
    assert not CalendarYear.objects.exists()


def test_only_a_superuser_corrects_the_national_calendar(hall_admin: Client, demo: dict[str, Any]):
    assert hall_admin.get("/admin/scheduling/calendarday/").status_code == 200
    assert hall_admin.get("/admin/scheduling/calendarday/add/").status_code == 403
    superuser = Client()
    superuser.force_login(get_user_model().objects.get(username="admin"))
    response = superuser.post(
        "/admin/scheduling/calendarday/add/",
        {"date": "2027-01-01", "is_workday": "", "name": "元旦"},
    )
    assert response.status_code == 302
    assert CalendarDay.objects.get().name == "元旦"
