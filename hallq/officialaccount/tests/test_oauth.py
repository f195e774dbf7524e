"""OAuth for the H5 pages, driven over HTTP through the stand-in's authorisation page: the
visitor picks a demo WeChat user and comes back with an openid proof, a snapshot-page visitor
with none."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from hallq.citizens.models import CitizenWechat
from hallq.officialaccount.proofs import openid_from_proof
from hallq.officialaccount.views import STATE_COOKIE

pytestmark = [pytest.mark.django_db, pytest.mark.urls("hallq.officialaccount.tests.urls")]


def authorise_as(client, sandbox, openid: str, *, next_page: str = "/t/7/?token=abc"):
    """Open /wechat/oauth/start, pick ``openid`` ("" for a snapshot user) on the stand-in's
    page, and return hallq's answer to WeChat's redirect back."""
    start = client.get("/wechat/oauth/start", {"next": next_page})
    assert start.status_code == 302
    authorise = start["Location"]
    assert authorise.startswith(f"{sandbox.url}/connect/oauth2/authorize?")
    assert authorise.endswith("#wechat_redirect")
    consent = sandbox.http.get(authorise.removeprefix(sandbox.url).split("#")[0])
    assert consent.status_code == 200
    links = [
        html.unescape(link)
        for link in re.findall(r'href="(/connect/oauth2/pick\?[^"]+)"', consent.text)
    ]
    [pick] = [
        link for link in links if parse_qs(urlsplit(link).query).get("openid", [""])[0] == openid
    ]
    back = sandbox.http.get(pick)
    assert back.status_code == 302
    location = urlsplit(back.headers["location"])
    assert (location.scheme, location.netloc, location.path) == (
        "http",
        "testserver",
        "/wechat/oauth/callback",
    )
    return client.get(f"{location.path}?{location.query}")


def test_a_wechat_user_comes_back_with_a_proof_of_their_openid(client, sandbox):
    answer = authorise_as(client, sandbox, "o_demo_1")

    assert answer.status_code == 302
    page, fragment = answer["Location"].split("#")
    assert page == "/t/7/?token=abc"
    [proof] = parse_qs(fragment)["wechat_proof"]
    assert openid_from_proof(proof) == "o_demo_1"
    assert answer.cookies[STATE_COOKIE].value == ""  # used once


def test_a_snapshot_page_user_gets_no_proof_and_is_never_bound(client, sandbox):
    answer = authorise_as(client, sandbox, "")

    assert answer.status_code == 302
    assert answer["Location"] == "/t/7/?token=abc#wechat=snapshot"
    assert CitizenWechat.objects.count() == 0


def test_a_code_returns_only_to_the_browser_that_asked_for_it(client, sandbox):
    # The visitor's browser never started this round: its state cookie is missing.
    start = client.get("/wechat/oauth/start")
    client.cookies.pop(STATE_COOKIE)
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    answer = client.get("/wechat/oauth/callback", {"code": "any", "state": state})
    assert answer.status_code == 403


def test_a_code_used_twice_gives_no_proof_the_second_time(client, sandbox):
    first = authorise_as(client, sandbox, "o_demo_1", next_page="/me/")
    assert "wechat_proof=" in first["Location"]
    code = parse_qs(urlsplit(first.wsgi_request.get_full_path()).query)["code"][0]

    start = client.get("/wechat/oauth/start", {"next": "/me/"})
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    again = client.get("/wechat/oauth/callback", {"code": code, "state": state, "next": "/me/"})
    assert again["Location"] == "/me/#wechat=failed"


def test_the_way_back_stays_on_this_site(client, sandbox):
    start = client.get("/wechat/oauth/start", {"next": "https://evil.example/steal"})
    redirect_uri = parse_qs(urlsplit(start["Location"]).query)["redirect_uri"][0]
    assert parse_qs(urlsplit(redirect_uri).query)["next"] == ["/"]


def test_without_the_official_account_there_is_no_oauth(client):
    assert client.get("/wechat/oauth/start").status_code == 404


def test_a_state_that_is_not_ascii_is_refused_not_a_crash(client, sandbox):
    client.get("/wechat/oauth/start")
    assert client.get("/wechat/oauth/callback", {"code": "x", "state": "状态"}).status_code == 403
