"""The official account's menu targets "my ticket" and "halls near me" render in both languages,
carry every string their scripts show, and are linked from the start page and "my appointments"."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from hallq.web.tests.test_pages import SCRIPT_OR_STYLE, asgi_statuses, page_messages

pytestmark = pytest.mark.django_db

STATIC = Path(settings.BASE_DIR) / "hallq" / "web" / "static" / "web"
TRANSLATED_KEY = re.compile(r"H\.t\('(\w+)'")
PAGES = {"/me/ticket/": "my_ticket.js", "/halls/nearby/": "halls_nearby.js"}


def html_of(client: Client, path: str, language: str | None = None) -> str:
    headers = {"Accept-Language": language} if language else {}
    response = client.get(path, headers=headers)
    assert response.status_code == 200, path
    return response.content.decode()


def test_my_ticket_is_chinese_by_default_and_english_on_request(client: Client) -> None:
    zh = html_of(client, "/me/ticket/")
    en = html_of(client, "/me/ticket/", "en")

    assert '<html lang="zh-hans">' in zh
    assert "<title>我的号票</title>" in zh
    assert "今日号票" in zh
    assert "您今天没有正在排队的号票。" in zh
    assert 'href="/halls/nearby/"' in zh
    assert 'href="/progress/"' in zh
    assert page_messages(zh)["state_called"] == "已叫号"
    assert '<html lang="en">' in en
    assert "My tickets today" in en
    assert "You have no ticket in the queue today." in en
    assert page_messages(en)["state_called"] == "Called"


def test_halls_nearby_is_chinese_by_default_and_english_on_request(client: Client) -> None:
    zh = html_of(client, "/halls/nearby/")
    en = html_of(client, "/halls/nearby/", "en")

    assert "<title>附近大厅</title>" in zh
    assert "正在获取您的位置…" in zh
    assert page_messages(zh)["navigate"] == "导航"
    assert page_messages(zh)["distance_kilometres"] == "%(kilometres)s 公里"
    assert page_messages(zh)["idle"] == "空闲，无需预约"
    assert "<title>Halls near me</title>" in en
    assert "Finding where you are…" in en
    assert page_messages(en)["navigate"] == "Navigate"


def test_the_pages_scripts_show_only_translated_strings(client: Client) -> None:
    for path, script in PAGES.items():
        keys = {k for k in TRANSLATED_KEY.findall((STATIC / script).read_text()) if k != "state_"}
        if script == "my_ticket.js":
            keys.update(f"state_{state}" for state in ("waiting", "called", "serving", "done"))
        zh = page_messages(html_of(client, path))
        en = page_messages(html_of(client, path, "en"))

        assert sorted(keys - zh.keys()) == [], path
        untranslated = sorted(key for key in keys if zh[key] == en[key])
        # "%(service)s · %(hall)s" reads the same in both languages.
        expected = ["ticket_of_service"] if script == "my_ticket.js" else []
        assert untranslated == expected, path


def test_the_pages_find_their_scripts_and_styles(client: Client) -> None:
    assets = set()
    for path, script in PAGES.items():
        found = SCRIPT_OR_STYLE.findall(html_of(client, path))
        assert f"/static/web/{script}" in found
        assets.update(found)

    statuses = asyncio.run(asgi_statuses(sorted(assets)))

    assert statuses == dict.fromkeys(sorted(assets), 200)


def test_the_start_page_and_my_appointments_link_both(client: Client, demo: dict[str, Any]) -> None:
    for path in ("/", "/me/"):
        html = html_of(client, path)

        assert '<a class="btn' in html
        assert 'href="/me/ticket/">我的号票</a>' in html, path
        assert 'href="/halls/nearby/">附近大厅</a>' in html, path
