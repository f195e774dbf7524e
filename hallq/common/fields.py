"""A model field whose value is encrypted in the database (``hallq.common.crypto``)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Lookup

from hallq.common import crypto

# Every other lookup would compare a fresh ciphertext (new nonce) with the stored one and never
# match, silently: refuse them instead.
ALLOWED_LOOKUPS = frozenset({"isnull"})


class EncryptedTextField(models.TextField):
    """Plain text in Python, AES-GCM ciphertext in the database. Cannot be filtered on: look
    rows up by a blind-index column next to it."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return crypto.encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> type[Lookup[Any]] | None:
        if lookup_name not in ALLOWED_LOOKUPS:
            return None
        return super().get_lookup(lookup_name)
