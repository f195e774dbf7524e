"""The booking API end to end on the real database, at fixed moments of the hall's day."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from hallq.booking.api import _refresher
from hallq.booking.demo import load_booking_demo
from hallq.booking.models import Appointment, AppointmentState, IdempotencyRecord, Slot
from hallq.booking.tests.factories import id_number_for, make_citizen, make_slot
from hallq.citizens.models import Agreement, Citizen
from hallq.citizens.services import blacklist_add, citizen_token_issue
from hallq.common import clock, crypto
from hallq.common.memo import forget_all
from hallq.halls.models import Service
from hallq.scheduling.models import DateOverride

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def moment(day: int, hour: int, minute: int = 0, month: int = 3, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def halls(demo: dict[str, Any]) -> list[dict[str, Any]]:
    load_booking_demo(now=moment(1, 9))
    return demo["halls"]


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch):
    """Set the moment the API reads as now."""

    def set_now(when: datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: when)

    set_now(moment(2, 10))  # Monday 2 March 2026, 10:00 in the hall
    return set_now


def service_of(hall: dict[str, Any], prefix: str) -> Service:
    return Service.objects.get(hall_id=hall["id"], prefix=prefix)


def citizen_client(index: int = 1, **extra: Any) -> tuple[Client, Any]:
    citizen = make_citizen(index, now=moment(1, 9), **extra)
    Agreement.objects.filter(version__gt=1).delete()
    token = citizen_token_issue(citizen=citizen, now=clock.now())
    return Client(headers={"authorization": f"Bearer {token}"}), citizen


def slots(client: Client, hall: dict[str, Any], service: Service, day: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/halls/{hall['id']}/services/{service.pk}/slots?date={day}")
    assert response.status_code == 200, response.content
    return response.json()


def book(client: Client, slot_id: int, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(
        "/api/v1/appointments",
        {"slot_id": slot_id},
        content_type="application/json",
        headers=headers,
    )


def test_tomorrows_slots_show_their_places_and_the_day_after_is_not_offered(halls, at):
    hall = halls[0]
    service = service_of(hall, "A")
    tomorrow = slots(Client(), hall, service, "2026-03-03")
    assert tomorrow["bookable"] is True
    assert [s["remaining"] for s in tomorrow["slots"]] == [6] * 13
    assert tomorrow["remaining"] == 78
    later = slots(Client(), hall, service, "2026-03-04")
    assert later["bookable"] is False
    assert later["reason"] == "too_far"
    assert later["message"]


def test_before_the_release_time_the_day_says_when_it_opens(halls, at):
    at(moment(2, 7, 59))
    day = slots(Client(), halls[0], service_of(halls[0], "A"), "2026-03-03")
    assert (day["bookable"], day["reason"]) == (False, "not_yet_open")
    assert "08:00" in day["message"]
    at(moment(2, 8, 0))
    assert slots(Client(), halls[0], service_of(halls[0], "A"), "2026-03-03")["bookable"] is True


def test_a_public_holiday_and_a_sunday_are_closed(halls, at):
    service = service_of(halls[1], "C")  # books a week ahead
    at(moment(1, 10, month=10))
    holiday = slots(Client(), halls[1], service, "2026-10-02")
    assert (holiday["bookable"], holiday["reason"], holiday["slots"]) == (False, "holiday", [])
    assert holiday["message"] == "法定节假日期间大厅不对外办公。"


def test_a_year_the_calendar_does_not_know_is_refused_clearly(halls, at):
    at(moment(30, 10, month=12))
    response = Client().get(
        f"/api/v1/halls/{halls[0]['id']}/services/{service_of(halls[0], 'C').pk}/slots"
        "?date=2027-01-04"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "calendar_unknown"
    assert "2027" in response.json()["message"]


def test_book_then_cancel_returns_the_place(halls, at):
    hall = halls[0]
    service = service_of(hall, "A")
    client, _citizen = citizen_client()
    first = slots(client, hall, service, "2026-03-03")["slots"][0]

    response = book(client, first["id"])

    assert response.status_code == 201, response.content
    appointment = response.json()
    assert appointment["state"] == "booked"
    assert len(appointment["booking_code"]) == 10
    assert slots(client, hall, service, "2026-03-03")["slots"][0]["remaining"] == 5
    mine = client.get("/api/v1/appointments").json()
    assert [a["id"] for a in mine] == [appointment["id"]]

    cancelled = client.post(f"/api/v1/appointments/{appointment['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert slots(client, hall, service, "2026-03-03")["slots"][0]["remaining"] == 6


def test_a_retry_with_the_same_idempotency_key_books_once(halls, at):
    hall = halls[0]
    client, citizen = citizen_client()
    slot = slots(client, hall, service_of(hall, "A"), "2026-03-03")["slots"][0]
    first = book(client, slot["id"], key="abc-123")
    again = book(client, slot["id"], key="abc-123")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert Appointment.objects.filter(citizen=citizen).count() == 1


@pytest.mark.parametrize(
    ("prepare", "status", "code"),
    [
        ("unknown_slot", 404, "unknown_slot"),
        ("closed_slot", 409, "slot_closed"),
        ("past", 409, "past"),
        ("not_registered", 409, "not_registered"),
        ("new_agreement", 409, "agreement_required"),
        ("blacklisted", 409, "blacklisted"),
    ],
)
def test_bookings_that_cannot_be_made_are_refused_clearly_and_change_nothing(
    halls, at, prepare, status, code
):
    hall = halls[0]
    service = service_of(hall, "A")
    client, citizen = citizen_client(registered=prepare != "not_registered")
    slot_id = slots(client, hall, service, "2026-03-03")["slots"][0]["id"]
    if prepare == "unknown_slot":
        slot_id = 10**9
    elif prepare == "closed_slot":
        DateOverride.objects.create(service=service, date="2026-03-03", kind="close_day")
    elif prepare == "past":
        at(moment(4, 10))
    elif prepare == "new_agreement":
        Agreement.objects.create(version=2, title="v2", text="…", published_at=moment(2, 9))
    elif prepare == "blacklisted":
        admin = get_user_model().objects.create(username="hall-admin")
        blacklist_add(
            citizen=citizen, days=30, reason="测试", by_user_id=admin.pk, now=moment(2, 9)
        )

    response = book(client, slot_id)

    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])  # said in Chinese
    if prepare == "blacklisted":
        assert "2026-04-01" in body["message"]
    assert not Appointment.objects.exists()


def test_errors_are_in_english_for_an_english_page(halls, at):
    client, _ = citizen_client()
    response = client.post(
        "/api/v1/appointments",
        {"slot_id": 10**9},
        content_type="application/json",
        headers={"accept-language": "en"},
    )
    assert response.json()["message"] == "No such slot."


def kiosk(hall: dict[str, Any]) -> Client:
    return Client(headers={"authorization": f"Bearer {hall['kiosk_token']}"})


def check_in(hall: dict[str, Any], **body: str) -> Any:
    return kiosk(hall).post(
        f"/api/v1/halls/{hall['id']}/check-in", body, content_type="application/json"
    )


def test_check_in_at_the_kiosk_by_id_number_and_by_booking_code(halls, at):
    hall = halls[0]
    client, _citizen = citizen_client()
    day = slots(client, hall, service_of(hall, "A"), "2026-03-03")
    appointment = book(client, day["slots"][0]["id"]).json()  # 09:00–09:30

    at(moment(3, 7, 59))
    early = check_in(hall, booking_code=appointment["booking_code"])
    assert (early.status_code, early.json()["code"]) == (409, "check_in_not_open")
    assert "08:00" in early.json()["message"]

    at(moment(3, 8, 30))
    response = check_in(hall, id_number=id_number_for(1))
    assert response.status_code == 200, response.content
    [ticket] = response.json()["tickets"]
    assert (ticket["number"], ticket["kind"]) == ("A001", "appointment")
    again = check_in(hall, booking_code=appointment["booking_code"])
    assert again.json()["tickets"][0]["id"] == ticket["id"]
    stored = Appointment.objects.get(pk=appointment["id"])
    assert (stored.state, stored.ticket_id) == (AppointmentState.CHECKED_IN, ticket["id"])


@pytest.mark.parametrize(
    ("where", "status", "code"),
    [
        ("bad_check_digit", 400, "id_check_digit"),
        ("other_hall", 409, "other_hall"),
        ("other_day", 409, "other_day"),
        ("too_late", 409, "check_in_closed"),
        ("nobody", 404, "no_appointment"),
    ],
)
def test_check_in_refusals_say_why(halls, at, where, status, code):
    client, _ = citizen_client()
    day = slots(client, halls[0], service_of(halls[0], "A"), "2026-03-03")
    appointment = book(client, day["slots"][0]["id"]).json()
    at(moment(3, 8, 30))
    hall, body = halls[0], {"booking_code": appointment["booking_code"]}
    if where == "bad_check_digit":
        body = {"id_number": id_number_for(1)[:-1] + ("0" if id_number_for(1)[-1] != "0" else "1")}
    elif where == "other_hall":
        hall = halls[1]
    elif where == "other_day":
        at(moment(2, 10))
    elif where == "too_late":
        at(moment(3, 9, 46))
    elif where == "nobody":
        body = {"booking_code": "0000000000"}

    response = check_in(hall, **body)

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert Appointment.objects.get(pk=appointment["id"]).state == AppointmentState.BOOKED


def test_the_hall_week_availability_lists_every_bookable_service_and_day(halls, at):
    response = Client().get(f"/api/v1/halls/{halls[0]['id']}/availability?days=8")
    assert response.status_code == 200
    days = response.json()
    assert len(days) == 5 * 8
    bookable = {(d["service_id"], d["date"]) for d in days if d["bookable"]}
    services = {s.prefix: s.pk for s in Service.objects.filter(hall_id=halls[0]["id"])}
    # Tuesday for everything; 不动产登记 (C) also to next Monday, but not the Sunday.
    assert (services["A"], "2026-03-03") in bookable
    assert (services["A"], "2026-03-04") not in bookable
    assert (services["C"], "2026-03-07") in bookable  # the first hall opens on Saturdays
    assert (services["C"], "2026-03-08") not in bookable
    assert (services["C"], "2026-03-09") in bookable
    assert Slot.objects.filter(service_id=services["C"], date="2026-03-09").count() == 13


def test_availability_of_one_service(halls, at):
    service = service_of(halls[0], "C")
    response = Client().get(
        f"/api/v1/halls/{halls[0]['id']}/availability?days=3&service_id={service.pk}"
    )
    assert [(d["service_id"], d["date"]) for d in response.json()] == [
        (service.pk, "2026-03-02"),
        (service.pk, "2026-03-03"),
        (service.pk, "2026-03-04"),
    ]


@pytest.mark.django_db(transaction=True)  # the refresh runs on its own thread and connection
def test_an_expired_availability_is_answered_at_once_and_computed_again_off_the_request(halls, at):
    path = f"/api/v1/halls/{halls[0]['id']}/availability?days=3"
    fresh = Client().get(path).json()
    key = f"availability:{halls[0]['id']}:None:None:3:{settings.LANGUAGE_CODE}"
    computed_at, _body = cache.get(key)
    cache.set(key, (computed_at - 60, b'["kept"]'), 30)
    forget_all()  # what this process keeps for a second besides

    # Being computed already (here or by another process): what is kept, nothing more.
    assert cache.add(f"{key}:refreshing", 1, 10)
    assert Client().get(path).json() == ["kept"]
    _refresher.submit(lambda: None).result()  # the refresher's queue is empty
    assert cache.get(key)[1] == b'["kept"]'

    # Nobody is computing it: still what is kept, at once, and a refresh on the side.
    cache.delete(f"{key}:refreshing")
    forget_all()
    assert Client().get(path).json() == ["kept"]
    _refresher.submit(lambda: None).result()
    assert cache.get(key)[0] > computed_at - 60
    assert cache.get(f"{key}:refreshing") is None
    forget_all()
    assert Client().get(path).json() == fresh


# -- the hot path: what one booking request costs (bench/NOTES.md) ----------------------------


def test_a_retry_after_the_slot_filled_still_gets_the_first_appointment(halls, at):
    slot = make_slot(service_of(halls[0], "A"), moment(3, 7), quota=1)
    client, _ = citizen_client()
    first = book(client, slot.pk, key="k-1")
    other, _ = citizen_client(2)
    assert book(other, slot.pk).json()["code"] == "slot_full"

    again = book(client, slot.pk, key="k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["booking_code"] == first.json()["booking_code"]


def booking_statements() -> list[str]:
    """A booking's statements, by first word. Before the transaction: the slot, a free place,
    an earlier answer. Under the citizen's lock: the lock; their limits with the place's claim
    (``WITH claim``); the appointment with the place taken (on PostgreSQL one ``WITH``
    statement, on SQLite an INSERT and an UPDATE); the notice."""
    if connection.vendor == "postgresql":
        return ["SELECT", "SELECT", "WITH", "WITH", "INSERT"]
    return ["SELECT", "SELECT", "WITH", "INSERT", "UPDATE", "INSERT"]


def test_a_booking_runs_five_statements_and_a_full_answer_one(halls, at):
    slot = make_slot(service_of(halls[0], "A"), moment(3, 7), quota=1)
    warm = make_slot(service_of(halls[0], "A"), moment(3, 7, 30), quota=1)
    client, _ = citizen_client()
    other, _ = citizen_client(2)
    # Remembered from here on: both tokens, the service, its rules, the agreement's version.
    assert book(other, warm.pk).status_code == 201
    assert client.get("/api/v1/appointments").status_code == 200

    with CaptureQueriesContext(connection) as captured:
        assert book(client, slot.pk).status_code == 201
    # Each request empties Django's query log: read it before the next one.
    booking = [q["sql"].split()[0] for q in captured.captured_queries]
    with CaptureQueriesContext(connection) as captured:
        assert book(other, slot.pk).json()["code"] == "slot_full"
    full = len(captured.captured_queries)

    transaction = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
    assert [verb for verb in booking if verb not in transaction] == booking_statements()
    assert full == 1


def test_a_citizens_first_request_reads_their_token_in_its_first_statement(halls, at):
    slot = make_slot(service_of(halls[0], "A"), moment(3, 7), quota=1)
    warm = make_slot(service_of(halls[0], "A"), moment(3, 7, 30), quota=1)
    first, _ = citizen_client()
    loser, _ = citizen_client(2)
    again, _ = citizen_client(3)
    assert book(again, warm.pk).status_code == 201  # the service, its rules, the agreement

    with CaptureQueriesContext(connection) as captured:
        assert book(first, slot.pk).status_code == 201
    booking = [q["sql"].split()[0] for q in captured.captured_queries]
    assert "citizens_citizentoken" in captured.captured_queries[0]["sql"]
    with CaptureQueriesContext(connection) as captured:
        assert book(loser, slot.pk).json()["code"] == "slot_full"
    full = [q["sql"] for q in captured.captured_queries]
    with CaptureQueriesContext(connection) as captured:
        assert book(loser, slot.pk).json()["code"] == "slot_full"
    full_again = [q["sql"] for q in captured.captured_queries]

    transaction = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
    assert [verb for verb in booking if verb not in transaction] == booking_statements()
    assert len(full) == 1
    assert "citizens_citizentoken" in full[0]
    # Remembered by the first: the token is not read again.
    assert len(full_again) == 1
    assert "citizens_citizentoken" not in full_again[0]


def test_an_unknown_or_expired_token_books_nothing_and_is_not_remembered(halls, at):
    from hallq.citizens.models import CitizenToken
    from hallq.citizens.selectors import _signed_in
    from hallq.halls.models import hash_token

    slot = make_slot(service_of(halls[0], "A"), moment(3, 7), quota=2)
    booker, _ = citizen_client(2)
    assert book(booker, slot.pk, key="k-1").status_code == 201  # an answer kept for "k-1"
    unknown_token = "hc_" + "x" * 40
    expired_token = citizen_token_issue(citizen=make_citizen(1, now=clock.now()), now=clock.now())
    CitizenToken.objects.filter(token_hash=hash_token(expired_token)).update(expires_at=clock.now())

    for token in (unknown_token, expired_token, expired_token):
        client = Client(headers={"authorization": f"Bearer {token}"})
        response = book(client, slot.pk, key="k-1")
        assert (response.status_code, response.json()["code"]) == (401, "unauthorised")
        assert "booking_code" not in response.json()
        assert hash_token(token) not in _signed_in._entries
    # Nor does an unknown slot tell an unknown token anything but 401.
    unknown = Client(headers={"authorization": f"Bearer {unknown_token}"})
    assert book(unknown, 999_999).status_code == 401
    assert Appointment.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_a_key_another_citizen_used_is_not_a_first_requests_answer(halls, at):
    slot = make_slot(service_of(halls[0], "A"), moment(3, 7), quota=2)
    first, _ = citizen_client(1)
    second, _ = citizen_client(2)  # its token not yet remembered by this process

    mine = book(first, slot.pk, key="k-1")
    theirs = book(second, slot.pk, key="k-1")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert theirs.json()["id"] != mine.json()["id"]
    assert Appointment.objects.filter(slot=slot).count() == 2


def test_a_full_answer_decrypts_nothing_and_a_booking_only_the_mobile_number(
    halls, at, monkeypatch
):
    slot = make_slot(service_of(halls[0], "A"), moment(3, 7), quota=1)
    winner, _ = citizen_client()
    loser, _ = citizen_client(2)
    opened: list[str] = []
    decrypt = crypto.decrypt

    def counting(token: str) -> str:
        opened.append(token)
        return decrypt(token)

    monkeypatch.setattr(crypto, "decrypt", counting)

    assert book(winner, slot.pk).status_code == 201
    assert len(opened) == 1  # the mobile number, for the confirmation's SMS
    assert book(loser, slot.pk).json()["code"] == "slot_full"
    assert len(opened) == 1


def test_a_signed_out_token_books_nothing(halls, at):
    slot = make_slot(service_of(halls[0], "A"), moment(3, 7), quota=1)
    client, _ = citizen_client()
    assert client.get("/api/v1/appointments").status_code == 200  # the token remembered

    assert client.post("/api/v1/citizen/sign-out").status_code == 204
    response = book(client, slot.pk)

    assert (response.status_code, response.json()["code"]) == (401, "unauthorised")
    assert not Appointment.objects.exists()


def test_a_citizen_removed_while_their_token_is_remembered_books_nothing(halls, at):
    slot = make_slot(service_of(halls[0], "A"), moment(3, 7), quota=1)
    client, citizen = citizen_client()
    assert client.get("/api/v1/appointments").status_code == 200  # the token remembered
    citizen.delete()

    response = book(client, slot.pk)

    assert (response.status_code, response.json()["code"]) == (401, "unauthorised")
    assert not Appointment.objects.exists()


def test_an_unregistered_citizen_is_refused_under_the_lock_and_nothing_is_written(halls, at):
    # Registration and the agreement are read with the citizen's lock, not before it.
    slot = make_slot(service_of(halls[0], "A"), moment(3, 7), quota=1)
    client, citizen = citizen_client(registered=False)
    response = book(client, slot.pk, key="k-1")
    assert response.json()["code"] == "not_registered"
    Citizen.objects.filter(pk=citizen.pk).update(registered_at=moment(2, 9))
    assert book(client, slot.pk, key="k-1").status_code == 201
    assert IdempotencyRecord.objects.get().appointment_id == Appointment.objects.get().pk
