"""Every page renders for the demo data; ticket links are unforgeable; pages load their assets."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

SCRIPT_OR_STYLE = re.compile(r'(?:src|href)="(/static/[^"]+)"')
MESSAGES = re.compile(r'<script id="hallq-messages" type="application/json">(.*?)</script>', re.S)


def page_messages(html: str) -> dict[str, str]:
    match = MESSAGES.search(html)
    assert match is not None, "the page carries no #hallq-messages"
    messages: dict[str, str] = json.loads(match.group(1))
    return messages


def issue_ticket(client: Client, hall: dict[str, Any], service_prefix: str = "A") -> dict[str, Any]:
    services = client.get(f"/api/v1/halls/{hall['id']}/services").json()
    service = next(s for s in services if s["prefix"] == service_prefix)
    response = client.post(
        f"/api/v1/halls/{hall['id']}/tickets",
        {"service_id": service["id"], "channel": "kiosk"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {hall['kiosk_token']}",
    )
    assert response.status_code == 201, response.content
    ticket: dict[str, Any] = response.json()
    return ticket


def test_index_lists_every_hall_with_its_pages(client: Client, demo: dict[str, Any]) -> None:
    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    for hall in demo["halls"]:
        assert hall["name"] in html
        for path in ("kiosk", "display", "progress"):
            assert f'href="/{path}/{hall["id"]}/"' in html
    for link in ("/counter/", "/admin/", "/api/v1/docs", "/progress/"):
        assert f'href="{link}"' in html


@pytest.mark.parametrize("page", ["kiosk", "display", "progress"])
def test_hall_pages_render_for_every_demo_hall(
    client: Client, demo: dict[str, Any], page: str
) -> None:
    for hall in demo["halls"]:
        response = client.get(f"/{page}/{hall['id']}/")

        assert response.status_code == 200
        assert hall["name"] in response.content.decode()


@pytest.mark.parametrize("page", ["kiosk", "display", "progress"])
def test_hall_pages_404_for_an_unknown_hall(
    client: Client, demo: dict[str, Any], page: str
) -> None:
    assert client.get(f"/{page}/999999/").status_code == 404


@pytest.mark.parametrize("path", ["/counter/", "/progress/"])
def test_pages_without_a_hall_render(client: Client, demo: dict[str, Any], path: str) -> None:
    assert client.get(path).status_code == 200


def test_ticket_page_renders_with_its_token(client: Client, demo: dict[str, Any]) -> None:
    hall = demo["halls"][0]
    ticket = issue_ticket(client, hall)

    response = client.get(f"/t/{ticket['id']}/", {"token": ticket["token"]})

    assert response.status_code == 200
    html = response.content.decode()
    assert hall["name"] in html
    assert f'data-ticket-id="{ticket["id"]}"' in html
    assert ticket["url"].endswith(f"/t/{ticket['id']}/?token={ticket['token']}")


@pytest.mark.parametrize("token", [None, "", "0" * 32, "not-a-token"])
def test_ticket_page_404s_without_a_valid_token(
    client: Client, demo: dict[str, Any], token: str | None
) -> None:
    ticket = issue_ticket(client, demo["halls"][0])
    query = {} if token is None else {"token": token}

    assert client.get(f"/t/{ticket['id']}/", query).status_code == 404


def test_a_ticket_token_opens_only_its_own_ticket(client: Client, demo: dict[str, Any]) -> None:
    first = issue_ticket(client, demo["halls"][0])
    second = issue_ticket(client, demo["halls"][0])

    assert client.get(f"/t/{second['id']}/", {"token": first["token"]}).status_code == 404
    assert client.get(f"/t/{second['id']}/qr.svg", {"token": first["token"]}).status_code == 404


def test_ticket_qr_is_a_standalone_svg(client: Client, demo: dict[str, Any]) -> None:
    ticket = issue_ticket(client, demo["halls"][0])

    response = client.get(f"/t/{ticket['id']}/qr.svg", {"token": ticket["token"]})

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    # Without its namespace an SVG does not render in an <img> (the printed ticket's QR).
    assert response.content.startswith(b'<svg xmlns="http://www.w3.org/2000/svg"')
    assert client.get(f"/t/{ticket['id']}/qr.svg").status_code == 404


def test_pages_are_chinese_by_default_and_english_on_request(
    client: Client, demo: dict[str, Any]
) -> None:
    hall_id = demo["halls"][0]["id"]

    chinese = client.get(f"/kiosk/{hall_id}/").content.decode()
    english = client.get(f"/kiosk/{hall_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert '<html lang="zh-hans">' in chinese
    assert "请选择办理业务" in chinese
    assert page_messages(chinese)["about_minutes"] == "约 %(minutes)s 分钟"
    assert '<html lang="en">' in english
    assert "Please choose a service" in english
    assert page_messages(english)["about_minutes"] == "About %(minutes)s min"


def test_citizen_pages_offer_the_other_language(client: Client, demo: dict[str, Any]) -> None:
    html = client.get("/progress/").content.decode()

    assert 'name="language" value="en"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="next" value="/progress/"' in html


def test_kiosk_prints_on_58_mm_paper_on_request(client: Client, demo: dict[str, Any]) -> None:
    hall_id = demo["halls"][0]["id"]

    assert 'data-paper="80"' in client.get(f"/kiosk/{hall_id}/").content.decode()
    assert 'data-paper="58"' in client.get(f"/kiosk/{hall_id}/?paper=58").content.decode()


def test_every_page_finds_its_scripts_and_styles(client: Client, demo: dict[str, Any]) -> None:
    hall_id = demo["halls"][0]["id"]
    ticket = issue_ticket(client, demo["halls"][0])
    pages = [
        "/",
        f"/kiosk/{hall_id}/",
        f"/display/{hall_id}/",
        "/counter/",
        f"/t/{ticket['id']}/?token={ticket['token']}",
        "/progress/",
        f"/progress/{hall_id}/",
    ]
    assets: set[str] = set()
    for page in pages:
        found = SCRIPT_OR_STYLE.findall(client.get(page).content.decode())
        assert any(asset.endswith(".js") for asset in found), page
        assets.update(found)

    assert "/static/web/announcer.js" in assets
    # Static files are answered by the ASGI application's static handler, ahead of Django's
    # URLs and middleware (config/asgi.py), so ask the real ASGI application for them.
    assert asyncio.run(asgi_statuses(sorted(assets))) == dict.fromkeys(sorted(assets), 200)


async def asgi_statuses(paths: list[str]) -> dict[str, int]:
    from config.asgi import application

    transport = httpx.ASGITransport(app=application)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://hallq.test") as asgi:
        return {path: (await asgi.get(path)).status_code for path in paths}
