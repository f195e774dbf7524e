"""Encryption at rest: round trips, versioned keys, rotation, wrong keys, the blind index."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest

from hallq.common import crypto

KEY_1 = base64.b64encode(bytes(range(32))).decode()
KEY_2 = base64.b64encode(bytes(range(32, 64))).decode()
OTHER_1 = base64.b64encode(bytes(range(64, 96))).decode()


@pytest.fixture
def data_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Configure HALLQ_DATA_KEYS as a deployment would, then restart (forget the keyring)."""

    def configure(value: str) -> None:
        monkeypatch.setenv("HALLQ_DATA_KEYS", value)
        crypto.keyring.cache_clear()

    yield configure
    crypto.keyring.cache_clear()


def test_a_value_comes_back_and_never_encrypts_the_same_twice(data_keys):
    data_keys(f"1:{KEY_1}")
    first, second = crypto.encrypt("110101199003074514"), crypto.encrypt("110101199003074514")
    assert first != second
    assert first.startswith("v1:")
    assert "110101199003074514" not in first
    assert crypto.decrypt(first) == crypto.decrypt(second) == "110101199003074514"
    assert crypto.decrypt(crypto.encrypt("张三")) == "张三"


def test_a_value_written_with_key_1_is_read_after_key_2_becomes_current(data_keys):
    data_keys(f"1:{KEY_1}")
    old = crypto.encrypt("13812345678")
    data_keys(f"2:{KEY_2},1:{KEY_1}")
    assert crypto.decrypt(old) == "13812345678"
    new = crypto.encrypt("13812345678")
    assert (crypto.key_version(old), crypto.key_version(new)) == (1, 2)
    data_keys(f"2:{KEY_2}")
    assert crypto.decrypt(new) == "13812345678"
    with pytest.raises(crypto.DecryptionError, match="data key 1 is not configured"):
        crypto.decrypt(old)


def test_the_wrong_key_refuses_to_decrypt(data_keys):
    data_keys(f"1:{KEY_1}")
    stored = crypto.encrypt("13812345678")
    data_keys(f"1:{OTHER_1}")
    with pytest.raises(crypto.DecryptionError, match="data key 1 does not open this value"):
        crypto.decrypt(stored)


def test_a_tampered_or_foreign_value_refuses_to_decrypt(data_keys):
    data_keys(f"1:{KEY_1}")
    stored = crypto.encrypt("13812345678")
    body = bytearray(base64.urlsafe_b64decode(stored[3:]))
    body[-1] ^= 1
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt("v1:" + base64.urlsafe_b64encode(bytes(body)).decode())
    with pytest.raises(crypto.DecryptionError, match="not an encrypted value"):
        crypto.decrypt("13812345678")


def test_data_keys_must_be_aes_256():
    with pytest.raises(ValueError, match="must be 32 bytes"):
        crypto.parse_data_keys("1:" + base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="names no key"):
        crypto.parse_data_keys(" , ")
    assert crypto.parse_data_keys(f"3:{KEY_2}, 2:{KEY_1}")[0] == 3


def test_the_blind_index_is_keyed_and_separates_kinds(monkeypatch, data_keys):
    data_keys(f"1:{KEY_1}")
    index = crypto.blind_index("mobile", "13812345678")
    assert index == crypto.blind_index("mobile", "13812345678")
    assert index != crypto.blind_index("id_number", "13812345678")
    assert len(index) == 64
    monkeypatch.setenv("HALLQ_INDEX_KEY", KEY_2)
    crypto.keyring.cache_clear()
    assert crypto.blind_index("mobile", "13812345678") != index
