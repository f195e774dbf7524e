"""The back office is hall-scoped: an administrator of hall X sees and changes nothing of hall Y."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from hallq.halls.models import Counter, DeviceToken, HallMembership, hash_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def hall_admin(client: Client, demo: dict[str, Any]) -> Client:
    user = get_user_model().objects.create_user("hall1-admin", password="x", is_staff=True)
    HallMembership.objects.create(user=user, hall_id=demo["halls"][0]["id"], is_hall_admin=True)
    client.force_login(user)
    return client


def test_a_hall_administrator_lists_only_their_halls_counters(hall_admin: Client, demo):
    page = hall_admin.get("/admin/halls/counter/").content.decode()
    first, second = demo["halls"][0]["id"], demo["halls"][1]["id"]
    own = Counter.objects.filter(hall_id=first).count()
    assert page.count('class="field-number"') == own
    other = Counter.objects.filter(hall_id=second).first()
    assert other is not None
    response = hall_admin.get(f"/admin/halls/counter/{other.pk}/change/")
    assert response.status_code == 302  # "doesn't exist", back to the index


def test_a_hall_administrator_cannot_change_another_halls_counter(hall_admin: Client, demo):
    other = Counter.objects.filter(hall_id=demo["halls"][1]["id"]).earliest("number")
    response = hall_admin.post(
        f"/admin/halls/counter/{other.pk}/change/", {"hall": other.hall_id, "number": 99}
    )
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.number == 1


def test_plain_staff_do_not_get_the_back_office(client: Client, demo):
    staff = get_user_model().objects.get(username=demo["halls"][0]["staff"][0]["username"])
    client.force_login(staff)
    assert "halls/counter" not in client.get("/admin/").content.decode()
    assert client.get("/admin/halls/counter/").status_code == 403


def test_a_new_device_token_is_shown_once_and_stored_hashed(client: Client, demo):
    admin = get_user_model().objects.get(username="admin")
    client.force_login(admin)
    hall_id = demo["halls"][0]["id"]
    response = client.post(
        "/admin/halls/devicetoken/add/",
        {"hall": hall_id, "kind": "kiosk", "name": "二楼取号机"},
        follow=True,
    )
    page = response.content.decode()
    token = page.split("#token=")[1].split()[0].split("<")[0]
    device = DeviceToken.objects.get(name="二楼取号机")
    assert device.token_hash == hash_token(token)
    assert token not in device.token_hash
