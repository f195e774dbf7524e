"""Registered citizens with bearer tokens for the booking benchmarks, in bulk.

Run by bench/booking_data.py with the app's Python, in the app's directory, against the
booking template database (DATABASE_URL): Django is needed because ID and mobile numbers are
stored encrypted and found by keyed hashes under the server's own keys. Citizens are inserted
directly (bulk), not through SMS sign-in and registration: this is setup, not what is measured.

Writes one bearer token per line to --tokens, citizen by citizen in id order. The tokens are
credentials of a scratch database only; no personal data is printed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from stdnum.cn.ric import calc_check_digit  # noqa: E402

from hallq.citizens.models import (  # noqa: E402
    CITIZEN_TOKEN_PREFIX,
    Citizen,
    CitizenToken,
    id_number_index,
    mobile_index,
)
from hallq.citizens.selectors import current_agreement  # noqa: E402
from hallq.halls.models import hash_token  # noqa: E402

BATCH = 2000
FIRST_BIRTH_DATE = date(1970, 1, 1)


def id_number_for(index: int) -> str:
    """A valid resident ID number (a real birth date, a valid check digit), one per index."""
    birth = FIRST_BIRTH_DATE + timedelta(days=index // 1000)
    body = f"110101{birth:%Y%m%d}{index % 1000:03d}"
    return body + calc_check_digit(body)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--citizens", type=int, required=True)
    parser.add_argument("--tokens", type=Path, required=True)
    args = parser.parse_args()
    started = time.monotonic()
    now = timezone.now()
    agreement = current_agreement()
    version = agreement.version if agreement is not None else 0
    tokens: list[str] = []
    with transaction.atomic():
        for first in range(0, args.citizens, BATCH):
            indexes = range(first, min(first + BATCH, args.citizens))
            citizens = Citizen.objects.bulk_create(
                [
                    Citizen(
                        name=f"市民{index}",
                        mobile=f"139{index:08d}",
                        mobile_index=mobile_index(f"139{index:08d}"),
                        id_number=id_number_for(index),
                        id_number_index=id_number_index(id_number_for(index)),
                        agreement_version=version,
                        agreement_accepted_at=now,
                        created_at=now,
                        registered_at=now,
                    )
                    for index in indexes
                ]
            )
            batch = [CITIZEN_TOKEN_PREFIX + secrets.token_urlsafe(32) for _ in citizens]
            CitizenToken.objects.bulk_create(
                [
                    CitizenToken(
                        citizen=citizen,
                        token_hash=hash_token(token),
                        created_at=now,
                        expires_at=now + timedelta(days=30),
                    )
                    for citizen, token in zip(citizens, batch, strict=True)
                ]
            )
            tokens.extend(batch)
    args.tokens.write_text("\n".join(tokens) + "\n")
    print(f"{len(tokens)} citizens with tokens in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
