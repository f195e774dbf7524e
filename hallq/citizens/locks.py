"""The citizen's row lock (docs/concurrency.md).

Taken first by every change that reads and then writes a citizen's appointments, violations or
blacklist state: two bookings by the same citizen at once are serialised here, so the limit of
K active appointments and the blacklist rule are decided on what is committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from hallq.citizens.models import Citizen
from hallq.common.db import column_value, fetch_all


def lock_citizen(citizen_id: int) -> Citizen:
    return Citizen.objects.select_for_update(no_key=True).get(pk=citizen_id)


@dataclass(frozen=True, slots=True)
class LockedCitizen:
    """What a booking decides on about the citizen whose row it has locked. The mobile number
    stays encrypted until the booking's notice needs it; the ID number is not read at all."""

    pk: int
    registered: bool
    agreement_version: int
    stored_mobile: str

    @property
    def mobile(self) -> str:
        mobile: str = column_value(Citizen, "mobile", self.stored_mobile) or ""
        return mobile


def lock_citizen_to_book(citizen_id: int) -> LockedCitizen | None:
    """``lock_citizen`` for the booking hot path: the same lock, one short statement without
    the ORM, and only the columns a booking needs. None when there is no such citizen."""
    sql = (
        "SELECT registered_at IS NOT NULL, agreement_version, mobile "  # noqa: S608 - the model's table
        f"FROM {Citizen._meta.db_table} WHERE id = %s"
    )
    if connection.features.has_select_for_update:  # SQLite: the transaction holds the database
        no_key = connection.features.has_select_for_no_key_update
        sql += " " + connection.ops.for_update_sql(no_key=no_key)
    rows = fetch_all(sql, [citizen_id])
    if not rows:
        return None
    registered, agreement_version, stored_mobile = rows[0]
    return LockedCitizen(citizen_id, bool(registered), agreement_version, stored_mobile)
