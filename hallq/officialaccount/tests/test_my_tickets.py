"""GET /api/v1/citizen/tickets: the signed-in citizen's tickets of today (the official account's
"my ticket"), whether issued to them or bound to one of their WeChat users."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from hallq.citizens.models import CitizenWechat
from hallq.citizens.services import citizen_token_issue
from hallq.citizens.tests.factories import make_citizen
from hallq.common import clock
from hallq.halls.models import Hall, Service
from hallq.queueing import services as queue
from hallq.queueing.models import Channel, Ticket
from hallq.queueing.tests.factories import make_hall, make_service
from hallq.queueing.tokens import ticket_token

pytestmark = [pytest.mark.django_db, pytest.mark.urls("hallq.officialaccount.tests.urls")]

# 01:00 on 28 November in Shanghai is still 27 November in London.
NOW = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    return NOW


def issue(
    service: Service, at: datetime, *, citizen_id: int | None = None, openid: str = ""
) -> Ticket:
    ticket = queue.ticket_issue(hall=service.hall, service=service, channel=Channel.KIOSK, now=at)
    Ticket.objects.filter(pk=ticket.pk).update(owner_citizen_id=citizen_id, owner_openid=openid)
    return ticket


def my_tickets(client, token: str | None) -> tuple[int, object]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    answer = client.get("/api/v1/citizen/tickets", **headers)
    return answer.status_code, json.loads(answer.content)


def entry(ticket: Ticket, hall: Hall, service: Service, state: str = "waiting") -> dict:
    token = ticket_token(ticket.pk)
    return {
        "id": ticket.pk,
        "hall_id": hall.pk,
        "hall_name": hall.name,
        "number": ticket.number,
        "service_name": service.name,
        "state": state,
        "token": token,
        "url": f"http://testserver/t/{ticket.pk}/?token={token}",
    }


def test_a_citizen_sees_todays_tickets_issued_to_them_or_bound_to_their_wechat(
    client, frozen_clock
):
    citizen, other = make_citizen("13800000001"), make_citizen("13800000002")
    CitizenWechat.objects.create(openid="o_mine", citizen=citizen, bound_at=NOW)
    CitizenWechat.objects.create(openid="o_other", citizen=other, bound_at=NOW)
    shanghai = make_hall("东城区政务服务中心")
    social = make_service(shanghai, "A", "社保卡办理")
    tax = make_service(shanghai, "B", "税务登记")
    london = make_hall("London hall", time_zone="Europe/London")
    passports = make_service(london, "P", "Passports")

    yesterday = issue(social, NOW - timedelta(days=1), citizen_id=citizen.pk)
    appointment = issue(social, NOW - timedelta(minutes=30), citizen_id=citizen.pk)
    scanned = issue(tax, NOW - timedelta(minutes=10), openid="o_mine")
    issue(tax, NOW - timedelta(minutes=5), openid="o_other")
    issue(social, NOW - timedelta(minutes=4))
    abroad = issue(passports, NOW - timedelta(minutes=20), citizen_id=citizen.pk)
    Ticket.objects.filter(pk=appointment.pk).update(state="done")

    status, body = my_tickets(client, citizen_token_issue(citizen=citizen, now=NOW))

    assert status == 200
    assert body == [
        entry(scanned, shanghai, tax),
        entry(abroad, london, passports),
        entry(appointment, shanghai, social, state="done"),
    ]
    # Yesterday in Shanghai is today in London, but the ticket's hall is in Shanghai.
    assert yesterday.service_date.isoformat() == "2026-11-27"


def test_a_citizen_without_tickets_today_gets_an_empty_list(client, frozen_clock):
    citizen = make_citizen()
    hall = make_hall()
    issue(make_service(hall, "A"), NOW - timedelta(days=1), citizen_id=citizen.pk)

    assert my_tickets(client, citizen_token_issue(citizen=citizen, now=NOW)) == (200, [])


def test_my_tickets_needs_the_citizens_token(client, frozen_clock):
    assert my_tickets(client, None)[0] == 401
    assert my_tickets(client, "hc_forged")[0] == 401
