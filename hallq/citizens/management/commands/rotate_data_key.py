"""Re-encrypt every encrypted value to the current data key (``HALLQ_DATA_KEYS``' first).

Rotation: put the new key first in ``HALLQ_DATA_KEYS`` and keep the old one after it, restart,
run this command, then drop the old key. Values are re-encrypted one row at a time with a
conditional update, so the command can run while the product is in use and can be rerun.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import models, transaction
from django.db.models.functions import Cast

from hallq.common import crypto
from hallq.common.fields import EncryptedTextField

BATCH_SIZE = 500


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedTextField)
    ]


def reencrypt(model: type[models.Model], field_name: str) -> int:
    """Re-encrypt one column's values that are under an older key; how many were."""
    current = f"v{crypto.keyring().current}:"
    # The stored text itself: a cast to a plain text column skips the field's decryption.
    stored = Cast(field_name, output_field=models.TextField())
    stale = (
        model._default_manager.alias(stored=stored)
        .exclude(stored="")
        .exclude(stored__isnull=True)
        .exclude(stored__startswith=current)
    )
    rows = stale.annotate(stored_text=stored).order_by("pk").values_list("pk", "stored_text")
    changed = 0
    after: Any = None
    while True:
        batch = list((rows if after is None else rows.filter(pk__gt=after))[:BATCH_SIZE])
        if not batch:
            return changed
        with transaction.atomic():
            for pk, token in batch:
                # Unless someone rewrote the value meanwhile (then it is under the current key).
                changed += (
                    model._default_manager.alias(stored=stored)
                    .filter(pk=pk, stored=token)
                    .update(**{field_name: crypto.decrypt(token)})
                )
        after = batch[-1][0]


class Command(BaseCommand):
    help = "Re-encrypt personal data (ID and mobile numbers) to the current data key."

    def handle(self, *args: Any, **options: Any) -> None:
        version = crypto.keyring().current
        for model, field_name in encrypted_fields():
            changed = reencrypt(model, field_name)
            label = f"{model._meta.label}.{field_name}"
            self.stdout.write(f"{label}: {changed} values re-encrypted to key {version}")
