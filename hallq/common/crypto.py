"""Encryption of personal data at rest and its blind index (§13; PIPL art. 51).

AES-256-GCM with versioned keys from the environment: ``HALLQ_DATA_KEYS`` is a comma-separated
list of ``version:base64key``, the first being the one new values are written with; older
versions stay readable so keys can be rotated (``hallq rotate_data_key`` re-encrypts). Values
are found by ``blind_index``: an HMAC-SHA256 under ``HALLQ_INDEX_KEY``, never a plain hash (the
ID-number space is small enough to enumerate). Without these variables a development machine
derives both from its secret key.

The index key cannot be rotated this way: every blind index would have to be recomputed from
the plaintext, and sign-in code hashes cannot be.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

NONCE_BYTES = 12


class DecryptionError(Exception):
    """A stored value cannot be read: its key version is not configured, or the key is wrong."""


@dataclass(frozen=True)
class Keyring:
    current: int
    keys: dict[int, bytes]
    index_key: bytes


def _derive(label: str) -> bytes:
    return hashlib.sha256(f"hallq:{label}:{settings.SECRET_KEY}".encode()).digest()


def parse_data_keys(text: str) -> tuple[int, dict[int, bytes]]:
    keys: dict[int, bytes] = {}
    current = None
    for item in filter(None, (part.strip() for part in text.split(","))):
        version_text, _, encoded = item.partition(":")
        version = int(version_text)
        key = base64.b64decode(encoded)
        if len(key) != 32:
            raise ValueError(f"data key {version} must be 32 bytes (AES-256)")
        keys[version] = key
        if current is None:
            current = version
    if current is None:
        raise ValueError("HALLQ_DATA_KEYS names no key")
    return current, keys


@cache
def keyring() -> Keyring:
    configured = os.environ.get("HALLQ_DATA_KEYS", "")
    if configured:
        current, keys = parse_data_keys(configured)
    else:
        current, keys = 1, {1: _derive("data-key-1")}
    index = os.environ.get("HALLQ_INDEX_KEY", "")
    index_key = base64.b64decode(index) if index else _derive("index-key")
    if len(index_key) < 32:
        raise ValueError("HALLQ_INDEX_KEY must be at least 32 bytes")
    return Keyring(current=current, keys=keys, index_key=index_key)


def encrypt(plaintext: str) -> str:
    ring = keyring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.keys[ring.current]).encrypt(nonce, plaintext.encode(), None)
    return f"v{ring.current}:" + base64.urlsafe_b64encode(nonce + sealed).decode()


def key_version(token: str) -> int:
    version_text, separator, _ = token.partition(":")
    if not (separator and version_text.startswith("v") and version_text[1:].isdigit()):
        raise DecryptionError("not an encrypted value")
    return int(version_text[1:])


def decrypt(token: str) -> str:
    version = key_version(token)
    key = keyring().keys.get(version)
    if key is None:
        raise DecryptionError(f"data key {version} is not configured (HALLQ_DATA_KEYS)")
    try:
        raw = base64.urlsafe_b64decode(token.partition(":")[2])
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode()
    except (InvalidTag, binascii.Error):
        raise DecryptionError(f"data key {version} does not open this value") from None


def blind_index(kind: str, value: str) -> str:
    """A keyed hash to look values up by; ``kind`` keeps equal strings of different kinds apart."""
    message = f"{kind}:{value}".encode()
    return hmac.new(keyring().index_key, message, hashlib.sha256).hexdigest()
