"""The HTTP API: who may do what (the authorisation matrix), and bad input changing nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from hallq.common import clock
from hallq.halls.auth import staff_token_issue
from hallq.halls.models import Counter, CounterState, Service
from hallq.queueing.models import Ticket, TicketState
from hallq.queueing.services import ticket_issue

pytestmark = pytest.mark.django_db


class Api:
    def __init__(self, client: Client, demo: dict[str, Any]) -> None:
        self.client = client
        self.demo = demo
        self.halls = [h["id"] for h in demo["halls"]]

    def token(self, who: str) -> str | None:
        """who: anonymous, kiosk1, display1, kiosk2, staff1, staff2, admin"""
        if who == "anonymous":
            return None
        if who == "admin":
            return staff_token_issue(**self.demo["admin"], now=clock.now())
        kind, hall = who[:-1], int(who[-1]) - 1
        hall_data = self.demo["halls"][hall]
        if kind == "staff":
            return staff_token_issue(**hall_data["staff"][0], now=clock.now())
        return hall_data[f"{kind}_token"]

    def call(
        self,
        method: str,
        path: str,
        who: str = "anonymous",
        body: Any = None,
        language: str = "zh-hans",
    ) -> Any:
        headers: dict[str, Any] = {"HTTP_ACCEPT_LANGUAGE": language}
        token = self.token(who)
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        if method == "GET":
            return self.client.get(path, **headers)
        return self.client.post(path, body or {}, content_type="application/json", **headers)

    def service(self, hall_index: int, prefix: str = "A") -> Service:
        return Service.objects.get(hall_id=self.halls[hall_index], prefix=prefix)

    def counter(self, hall_index: int, prefix: str = "A") -> Counter:
        return Counter.objects.filter(
            hall_id=self.halls[hall_index], services__prefix=prefix
        ).earliest("number")

    def issue(self, hall_index: int = 0, prefix: str = "A") -> dict[str, Any]:
        response = self.call(
            "POST",
            f"/api/v1/halls/{self.halls[hall_index]}/tickets",
            f"kiosk{hall_index + 1}",
            {"service_id": self.service(hall_index, prefix).pk},
        )
        assert response.status_code == 201, response.content
        return response.json()


@pytest.fixture
def api(client: Client, demo: dict[str, Any]) -> Api:
    return Api(client, demo)


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("anonymous", 401),
        ("display1", 403),
        ("kiosk2", 403),
        ("staff2", 403),
        ("kiosk1", 201),
        ("staff1", 201),
        ("admin", 201),
    ],
)
def test_who_may_issue_a_ticket_in_hall_1(api: Api, who: str, status: int):
    response = api.call(
        "POST", f"/api/v1/halls/{api.halls[0]}/tickets", who, {"service_id": api.service(0).pk}
    )
    assert response.status_code == status, response.content
    assert Ticket.objects.count() == (1 if status == 201 else 0)


COUNTER_ACTIONS = [
    "open",
    "call-next",
    "recall",
    "start",
    "finish",
    "no-show",
    "pause",
    "resume",
    "close",
]


@pytest.mark.parametrize("action", COUNTER_ACTIONS)
@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 401), ("kiosk1", 403), ("display1", 403), ("staff2", 403)],
)
def test_only_the_halls_staff_may_act_at_its_counters(api: Api, action: str, who: str, status: int):
    counter = api.counter(0)
    api.issue()
    response = api.call("POST", f"/api/v1/counters/{counter.pk}/{action}", who)
    assert response.status_code == status
    counter.refresh_from_db()
    assert counter.state == CounterState.CLOSED
    assert Ticket.objects.get().state == TicketState.WAITING


def test_a_counter_day_through_the_api(api: Api):
    counter = api.counter(0)
    path = f"/api/v1/counters/{counter.pk}"
    first, second = api.issue(), api.issue()
    assert api.call("POST", f"{path}/open", "staff1").json()["state"] == "open"
    assert api.call("POST", f"{path}/call-next", "staff1").json()["number"] == first["number"]
    assert api.call("POST", f"{path}/recall", "staff1").json()["recall_count"] == 1
    assert api.call("POST", f"{path}/start", "staff1").json()["state"] == "serving"
    assert api.call("POST", f"{path}/finish", "staff1").json()["state"] == "done"
    assert api.call("POST", f"{path}/call-next", "staff1").json()["number"] == second["number"]
    assert api.call("POST", f"{path}/no-show", "staff1").json()["state"] == "no_show"
    assert api.call("POST", f"{path}/call-next", "staff1").status_code == 204
    reinstated = api.call("POST", f"/api/v1/tickets/{second['id']}/reinstate", "staff1")
    assert reinstated.json()["state"] == "waiting"
    assert api.call("POST", f"{path}/pause", "staff1").json()["state"] == "paused"
    assert api.call("POST", f"{path}/resume", "staff1").json()["state"] == "open"
    view = api.call("GET", path, "staff1").json()
    assert [t["number"] for t in view["waiting"]] == [second["number"]]
    assert view["waiting"][0]["band"] == "reinstated"


def test_staff_of_another_hall_cannot_transfer_or_reinstate(api: Api):
    ticket = api.issue()
    other = api.service(0, "B").pk
    assert (
        api.call(
            "POST", f"/api/v1/tickets/{ticket['id']}/transfer", "staff2", {"service_id": other}
        ).status_code
        == 403
    )
    assert (
        api.call("POST", f"/api/v1/tickets/{ticket['id']}/reinstate", "staff2").status_code == 403
    )
    assert api.call("GET", f"/api/v1/counters/{api.counter(0).pk}", "staff2").status_code == 403
    assert Ticket.objects.get().state == TicketState.WAITING


def test_transfer_through_the_api_keeps_the_place(api: Api):
    ticket = api.issue()
    response = api.call(
        "POST",
        f"/api/v1/tickets/{ticket['id']}/transfer",
        "staff1",
        {"service_id": api.service(0, "B").pk},
    )
    assert response.status_code == 200
    assert response.json()["number"] == "B001"
    original = api.call("GET", f"/api/v1/tickets/{ticket['id']}?token={ticket['token']}").json()
    assert original["state"] == "transferred"
    assert original["transferred_to"]["number"] == "B001"


@pytest.mark.parametrize(
    ("who", "token_kind", "status"),
    [
        ("anonymous", "own", 200),
        ("anonymous", "forged", 403),
        ("anonymous", "none", 403),
        ("staff1", "none", 200),
        ("staff2", "none", 403),
        ("kiosk1", "none", 403),
    ],
)
def test_who_may_read_a_ticket(api: Api, who: str, token_kind: str, status: int):
    ticket = api.issue()
    token = {"own": ticket["token"], "forged": "f" * 32, "none": ""}[token_kind]
    response = api.call("GET", f"/api/v1/tickets/{ticket['id']}?token={token}", who)
    assert response.status_code == status


def test_public_reads_need_no_token(api: Api):
    hall = api.halls[0]
    for path in [
        "/api/v1/halls",
        f"/api/v1/halls/{hall}/services",
        f"/api/v1/halls/{hall}/counters",
        f"/api/v1/halls/{hall}/progress",
        f"/api/v1/halls/{hall}/calls",
        "/healthz",
    ]:
        assert api.call("GET", path).status_code == 200, path


def test_issued_ticket_answer_has_the_documented_fields(api: Api):
    ticket = api.issue()
    assert {
        "id",
        "number",
        "service_id",
        "state",
        "people_ahead",
        "estimated_wait_seconds",
        "token",
        "url",
    } <= set(ticket)
    assert ticket["number"] == "A001"
    assert ticket["url"].endswith(f"/t/{ticket['id']}/?token={ticket['token']}")


def test_staff_sign_in_with_a_wrong_password_is_refused(api: Api):
    response = api.call(
        "POST", "/api/v1/auth/token", body={"username": "hall1-staff1", "password": "wrong"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "bad_credentials"


def test_inactive_staff_tokens_stop_working(api: Api):
    token = api.token("staff1")
    get_user_model().objects.filter(username="hall1-staff1").update(is_active=False)
    response = api.client.post(
        f"/api/v1/counters/{api.counter(0).pk}/open", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"service_id": 999999}, "unknown_service"),
        ({"service_id": "A"}, "invalid"),
        ({}, "invalid"),
        ({"service_id": 1, "channel": "remote"}, "channel"),
    ],
)
def test_bad_ticket_requests_are_refused_and_change_nothing(api: Api, body: dict, code: str):
    if body.get("channel"):
        body["service_id"] = api.service(0).pk
    response = api.call("POST", f"/api/v1/halls/{api.halls[0]}/tickets", "kiosk1", body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert Ticket.objects.count() == 0


def test_a_service_of_another_hall_is_unknown_here(api: Api):
    response = api.call(
        "POST", f"/api/v1/halls/{api.halls[0]}/tickets", "kiosk1", {"service_id": api.service(1).pk}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_service"
    assert Ticket.objects.count() == 0


def test_errors_speak_chinese_by_default_and_english_on_request(api: Api):
    counter = api.counter(0)
    zh = api.call("POST", f"/api/v1/counters/{counter.pk}/call-next", "staff1")
    en = api.call("POST", f"/api/v1/counters/{counter.pk}/call-next", "staff1", language="en")
    assert zh.status_code == en.status_code == 409
    assert zh.json()["message"] == "窗口已关闭，请先开启窗口。"
    assert en.json()["message"] == "The counter is closed. Open it first."


def test_wrong_state_actions_are_conflicts(api: Api):
    counter = api.counter(0)
    path = f"/api/v1/counters/{counter.pk}"
    api.call("POST", f"{path}/open", "staff1")
    for action in ["recall", "start", "finish", "no-show", "resume"]:
        response = api.call("POST", f"{path}/{action}", "staff1")
        assert response.status_code == 409, action
    ticket = api.issue()
    assert (
        api.call("POST", f"/api/v1/tickets/{ticket['id']}/reinstate", "staff1").status_code == 409
    )
    api.call("POST", f"{path}/pause", "staff1")
    paused = api.call("POST", f"{path}/call-next", "staff1")
    assert (paused.status_code, paused.json()["code"]) == (409, "counter_paused")
    assert Ticket.objects.get().state == TicketState.WAITING


@pytest.mark.parametrize(
    ("who", "kind", "halls"),
    [("kiosk1", "kiosk", 1), ("display1", "display", 1), ("staff1", "staff", 1)],
)
def test_auth_me_says_who_a_token_belongs_to(api: Api, who: str, kind: str, halls: int):
    me = api.call("GET", "/api/v1/auth/me", who).json()
    assert me["kind"] == kind
    assert me["hall_ids"] == api.halls[:halls]
    assert api.call("GET", "/api/v1/auth/me").status_code == 401


def test_logout_revokes_the_staff_token(api: Api):
    token = api.token("staff1")
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert api.client.post("/api/v1/auth/logout", **auth).status_code == 204
    assert api.client.get("/api/v1/auth/me", **auth).status_code == 401


def test_the_counter_view_lists_todays_no_shows_of_its_services(api: Api):
    counter = api.counter(0)
    path = f"/api/v1/counters/{counter.pk}"
    missed = api.issue()
    api.issue(prefix="D")  # a service this counter does not serve
    api.call("POST", f"{path}/open", "staff1")
    api.call("POST", f"{path}/call-next", "staff1")
    api.call("POST", f"{path}/no-show", "staff1")
    view = api.call("GET", path, "staff1").json()
    assert [(t["id"], t["number"]) for t in view["no_shows"]] == [(missed["id"], "A001")]
    api.call("POST", f"/api/v1/tickets/{missed['id']}/reinstate", "staff1")
    assert api.call("GET", path, "staff1").json()["no_shows"] == []


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_back_office_session_reads_the_api_and_cannot_write_through_it(demo):
    """Through the ASGI application the server runs, whose API requests have a middleware chain
    of their own (config/handlers.py): it keeps the session and the signed-in user."""
    from config.asgi import application

    hall_id = demo["halls"][0]["id"]
    staff = get_user_model().objects.get(username=demo["halls"][0]["staff"][0]["username"])
    browser = Client()
    browser.force_login(staff)
    cookie = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}"}
    service = Service.objects.filter(hall_id=hall_id).earliest("pk")
    ticket = ticket_issue(hall=service.hall, service=service, channel="kiosk", now=clock.now())
    counter = Counter.objects.filter(hall_id=hall_id).earliest("number")

    async def answers() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=application)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as asgi:
            return [
                await asgi.get(f"/api/v1/tickets/{ticket.pk}", headers=cookie),
                await asgi.get(f"/api/v1/tickets/{ticket.pk}"),
                await asgi.post(f"/api/v1/counters/{counter.pk}/call-next", headers=cookie),
            ]

    read, anonymous, write = asyncio.run(answers())

    assert read.status_code == 200
    assert read.json()["number"] == ticket.number
    assert anonymous.status_code == 403
    assert write.status_code == 401
    assert Ticket.objects.get(pk=ticket.pk).state == TicketState.WAITING
