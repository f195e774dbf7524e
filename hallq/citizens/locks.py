"""The citizen's row lock (docs/concurrency.md).

Taken first by every change that reads and then writes a citizen's appointments, violations or
blacklist state: two bookings by the same citizen at once are serialised here, so the limit of
K active appointments and the blacklist rule are decided on what is committed.
"""

from __future__ import annotations

from hallq.citizens.models import Citizen


def lock_citizen(citizen_id: int) -> Citizen:
    return Citizen.objects.select_for_update(no_key=True).get(pk=citizen_id)
