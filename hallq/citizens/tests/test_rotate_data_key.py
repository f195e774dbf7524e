"""Key rotation on stored rows: after a new key becomes current, the command re-encrypts every
encrypted column to it, and the old key can go."""

from __future__ import annotations

import base64
import io

import pytest
from django.core.management import call_command
from django.db import connection

from hallq.citizens import services
from hallq.citizens.models import Citizen
from hallq.citizens.tests.factories import make_citizen
from hallq.common import clock, crypto

pytestmark = pytest.mark.django_db

KEY_1 = base64.b64encode(bytes(range(32))).decode()
KEY_2 = base64.b64encode(bytes(range(32, 64))).decode()


@pytest.fixture
def data_keys(monkeypatch):
    def configure(value: str) -> None:
        monkeypatch.setenv("HALLQ_DATA_KEYS", value)
        crypto.keyring.cache_clear()

    yield configure
    crypto.keyring.cache_clear()


def stored_versions() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT mobile, id_number FROM citizens_citizen ORDER BY id")
        return [(mobile[:3], id_number[:3]) for mobile, id_number in cursor.fetchall()]


def test_rotation_re_encrypts_every_value_to_the_new_key(data_keys):
    data_keys(f"1:{KEY_1}")
    registered = make_citizen("13812345678")
    services.citizen_register(
        citizen=registered, name="张三", id_number="110101199003074514", now=clock.now()
    )
    make_citizen("13900001111")  # not registered: an empty ID number stays empty
    assert stored_versions() == [("v1:", "v1:"), ("v1:", "")]

    data_keys(f"2:{KEY_2},1:{KEY_1}")
    assert Citizen.objects.get(pk=registered.pk).id_number == "110101199003074514"
    out = io.StringIO()
    call_command("rotate_data_key", stdout=out)
    assert "citizens.Citizen.mobile: 2 values re-encrypted to key 2" in out.getvalue()
    assert "citizens.Citizen.id_number: 1 values re-encrypted to key 2" in out.getvalue()
    assert "13812345678" not in out.getvalue()
    assert stored_versions() == [("v2:", "v2:"), ("v2:", "")]

    data_keys(f"2:{KEY_2}")
    assert sorted(Citizen.objects.values_list("mobile", flat=True)) == [
        "13812345678",
        "13900001111",
    ]
    assert Citizen.objects.get(pk=registered.pk).id_number == "110101199003074514"

    out = io.StringIO()
    call_command("rotate_data_key", stdout=out)
    assert "citizens.Citizen.mobile: 0 values re-encrypted to key 2" in out.getvalue()


def test_a_value_under_a_key_no_longer_configured_cannot_be_read(data_keys):
    data_keys(f"1:{KEY_1}")
    citizen = make_citizen()
    data_keys(f"2:{KEY_2}")
    with pytest.raises(crypto.DecryptionError):
        Citizen.objects.get(pk=citizen.pk)
