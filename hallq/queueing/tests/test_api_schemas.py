"""The ticket answers are built as their schemas without django-ninja validating them again
(``api._answer``): they must be exactly what validation would have made of them."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from django.test import Client
from ninja.responses import NinjaJSONEncoder
from pydantic import BaseModel

from hallq.common import clock
from hallq.queueing.api import TicketIssuedOut, TicketOut, _answer
from hallq.queueing.models import Ticket
from hallq.queueing.tests.test_api import Api
from hallq.queueing.views import load_ticket, ticket_view

pytestmark = pytest.mark.django_db


def rendered(answer: BaseModel) -> Any:
    """The JSON django-ninja sends for ``answer`` (its encoder: datetimes to the millisecond)."""
    return json.loads(json.dumps(answer.model_dump(), cls=NinjaJSONEncoder))


@pytest.fixture
def api(client: Client, demo: dict[str, Any]) -> Api:
    return Api(client, demo)


def _a_day_of_answers(api: Api) -> list[tuple[type[TicketOut], dict[str, Any]]]:
    """Every answer of a counter's day, in every state a ticket passes through."""
    counter = api.counter(0)
    path = f"/api/v1/counters/{counter.pk}"
    answers: list[tuple[type[TicketOut], dict[str, Any]]] = []
    first, second, third = api.issue(), api.issue(), api.issue()
    answers += [(TicketIssuedOut, first), (TicketIssuedOut, second), (TicketIssuedOut, third)]
    assert api.call("POST", f"{path}/open", "staff1").status_code == 200
    for action in ("call-next", "recall", "start", "finish", "call-next", "no-show"):
        response = api.call("POST", f"{path}/{action}", "staff1")
        assert response.status_code == 200, (action, response.content)
        answers.append((TicketOut, response.json()))
    reinstated = api.call("POST", f"/api/v1/tickets/{second['id']}/reinstate", "staff1")
    transferred = api.call(
        "POST",
        f"/api/v1/tickets/{third['id']}/transfer",
        "staff1",
        {"service_id": api.service(0, "B").pk},
    )
    answers += [(TicketOut, reinstated.json()), (TicketOut, transferred.json())]
    for ticket in (first, second, third):  # done, waiting again, transferred (with its successor)
        own = api.call("GET", f"/api/v1/tickets/{ticket['id']}?token={ticket['token']}")
        answers.append((TicketOut, own.json()))
    return answers


def test_every_answer_of_a_counters_day_is_its_schema(api: Api):
    answers = _a_day_of_answers(api)
    states = {answer["state"] for _schema, answer in answers}
    assert states == {"waiting", "called", "serving", "done", "no_show", "transferred"}
    for schema, answer in answers:
        assert set(answer) == set(schema.model_fields), answer
        assert rendered(schema.model_validate(answer)) == answer


def test_building_an_answer_without_validation_gives_what_validation_gives(api: Api):
    _a_day_of_answers(api)
    now = clock.now()
    tickets = [load_ticket(pk) for pk in Ticket.objects.values_list("pk", flat=True)]
    assert len(tickets) == 4  # three issued and the transfer's successor
    for ticket in tickets:
        assert ticket is not None
        view = ticket_view(ticket, now)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # pydantic warns when a value is not its field's type
            built = rendered(_answer(TicketOut, dict(view)))
        assert built == rendered(TicketOut.model_validate(view))
        issued = {**view, "token": "t", "url": "https://hall.example/t"}
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            built = rendered(_answer(TicketIssuedOut, dict(issued)))
        assert built == rendered(TicketIssuedOut.model_validate(issued))
