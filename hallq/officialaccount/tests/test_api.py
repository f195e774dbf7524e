"""The API of the ticket page and the H5 sign-in: the ticket's QR code, binding by openid proof,
the citizen's own pre-call distance, binding and signing in with WeChat."""

from __future__ import annotations

import json
import time

import pytest

from hallq.citizens.models import CitizenWechat
from hallq.citizens.services import citizen_token_issue
from hallq.citizens.tests.factories import make_citizen
from hallq.common import clock
from hallq.notifications.models import Notification
from hallq.officialaccount.proofs import openid_proof
from hallq.queueing.models import Ticket
from hallq.queueing.tokens import ticket_token

pytestmark = [pytest.mark.django_db, pytest.mark.urls("hallq.officialaccount.tests.urls")]

OPENID = "o_citizen_1"


def call(client, method, path, body=None, *, token=None, language="zh-hans"):
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if method == "GET":
        return client.get(f"/api/v1{path}", **headers)
    return client.generic(
        method, f"/api/v1{path}", json.dumps(body or {}), content_type="application/json", **headers
    )


def test_without_the_official_account_the_qr_code_is_the_tickets_link(client, small_hall):
    [ticket] = small_hall.issue()
    answer = call(client, "GET", f"/tickets/{ticket.pk}/wechat-qr?token={ticket_token(ticket.pk)}")
    assert answer.status_code == 200
    assert answer.json() == {
        "url": f"http://testserver/t/{ticket.pk}/?token={ticket_token(ticket.pk)}",
        "expires_at": None,
        "kind": "link",
    }


def test_the_qr_code_needs_the_tickets_token(client, small_hall):
    [ticket] = small_hall.issue()
    answer = call(client, "GET", f"/tickets/{ticket.pk}/wechat-qr?token=forged")
    assert (answer.status_code, answer.json()["code"]) == (403, "bad_ticket_token")
    assert call(client, "GET", f"/tickets/{ticket.pk + 99}/wechat-qr?token=x").status_code == 404


def test_the_ticket_page_binds_its_ticket_to_the_wechat_user_of_the_proof(client, small_hall):
    [ticket] = small_hall.issue()
    path = f"/tickets/{ticket.pk}/bind?token={ticket_token(ticket.pk)}"

    answer = call(client, "POST", path, {"proof": openid_proof(OPENID)})

    assert answer.status_code == 200
    assert answer.json() == {"ticket_id": ticket.pk, "number": "A001"}
    assert Ticket.objects.get(pk=ticket.pk).owner_openid == OPENID
    # Nobody is ahead: the pre-call is due at once.
    assert list(Notification.objects.values_list("kind", "openid")) == [("pre_call", OPENID)]

    taken = call(client, "POST", path, {"proof": openid_proof("o_other")}, language="en")
    assert taken.status_code == 409
    assert taken.json() == {
        "code": "ticket_bound_elsewhere",
        "message": "Ticket A001 is already bound to another WeChat user.",
    }


def test_a_forged_or_stale_proof_binds_nothing(client, small_hall, monkeypatch):
    [ticket] = small_hall.issue()
    path = f"/tickets/{ticket.pk}/bind?token={ticket_token(ticket.pk)}"
    forged = openid_proof(OPENID)[:-2] + "xx"
    assert call(client, "POST", path, {"proof": forged}).json()["code"] == "bad_wechat_proof"

    eleven_minutes_ago = time.time() - 660
    monkeypatch.setattr("django.core.signing.time.time", lambda: eleven_minutes_ago)
    stale = openid_proof(OPENID)
    monkeypatch.undo()
    answer = call(client, "POST", path, {"proof": stale})
    assert answer.status_code == 403
    assert answer.json() == {
        "code": "bad_wechat_proof",
        "message": "微信登录已过期或无效，请从公众号重新打开页面。",
    }
    assert Ticket.objects.get(pk=ticket.pk).owner_openid == ""


def test_binding_needs_the_tickets_token(client, small_hall):
    [ticket] = small_hall.issue()
    answer = call(client, "POST", f"/tickets/{ticket.pk}/bind", {"proof": openid_proof(OPENID)})
    assert answer.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).owner_openid == ""


def test_the_citizen_sets_their_own_pre_call_distance_between_1_and_20(client, small_hall):
    [ticket] = small_hall.issue()
    path = f"/tickets/{ticket.pk}/pre-call-distance?token={ticket_token(ticket.pk)}"

    answer = call(client, "PUT", path, {"distance": 5})
    assert answer.status_code == 200
    assert answer.json() == {"ticket_id": ticket.pk, "pre_call_distance": 5}
    assert Ticket.objects.get(pk=ticket.pk).pre_call_distance == 5
    for refused in (0, 21, -1):
        assert call(client, "PUT", path, {"distance": refused}).status_code == 400
    assert Ticket.objects.get(pk=ticket.pk).pre_call_distance == 5


def test_the_distance_is_set_only_while_waiting(client, small_hall):
    [ticket] = small_hall.issue()
    small_hall.call()
    path = f"/tickets/{ticket.pk}/pre-call-distance?token={ticket_token(ticket.pk)}"
    answer = call(client, "PUT", path, {"distance": 5})
    assert (answer.status_code, answer.json()["code"]) == (409, "ticket_not_waiting")


def test_a_citizen_binds_their_wechat_and_then_signs_in_with_it(client):
    citizen = make_citizen()
    proof = openid_proof(OPENID)

    unbound = call(client, "POST", "/citizen/sign-in/wechat", {"proof": proof})
    assert unbound.status_code == 404
    assert unbound.json() == {
        "code": "wechat_not_bound",
        "message": "该微信尚未绑定办事人，请先用短信验证码登录。",
    }

    token = citizen_token_issue(citizen=citizen, now=clock.now())
    assert call(client, "POST", "/citizen/wechat", {"proof": proof}).status_code == 401
    assert call(client, "POST", "/citizen/wechat", {"proof": proof}, token=token).status_code == 204
    assert list(CitizenWechat.objects.values_list("openid", "citizen_id")) == [(OPENID, citizen.pk)]

    signed_in = call(client, "POST", "/citizen/sign-in/wechat", {"proof": proof})
    assert signed_in.status_code == 200
    body = signed_in.json()
    assert body["token"].startswith("hc_")
    assert (body["registered"], body["agreement_version_required"]) == (False, 0)


def test_a_wechat_user_moves_to_the_citizen_who_binds_it_last(client):
    first, second = make_citizen("13800000001"), make_citizen("13800000002")
    proof = openid_proof(OPENID)
    for citizen in (first, second):
        token = citizen_token_issue(citizen=citizen, now=clock.now())
        assert (
            call(client, "POST", "/citizen/wechat", {"proof": proof}, token=token).status_code
            == 204
        )
    assert list(CitizenWechat.objects.values_list("openid", "citizen_id")) == [(OPENID, second.pk)]

    token = citizen_token_issue(citizen=second, now=clock.now())
    assert call(client, "DELETE", "/citizen/wechat", token=token).status_code == 204
    assert CitizenWechat.objects.count() == 0


def test_a_bound_citizen_becomes_the_owner_of_the_tickets_they_bind(client, small_hall):
    citizen = make_citizen()
    CitizenWechat.objects.create(openid=OPENID, citizen=citizen, bound_at=clock.now())
    [ticket] = small_hall.issue()
    path = f"/tickets/{ticket.pk}/bind?token={ticket_token(ticket.pk)}"
    assert call(client, "POST", path, {"proof": openid_proof(OPENID)}).status_code == 200
    ticket.refresh_from_db()
    assert (ticket.owner_openid, ticket.owner_citizen_id) == (OPENID, citizen.pk)
    assert Notification.objects.get().mobile == "13812345678"
