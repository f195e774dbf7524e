"""The ticket's own unforgeable token: what its QR code and live page carry."""

from __future__ import annotations

import hmac

from django.utils.crypto import salted_hmac


def ticket_token(ticket_id: int) -> str:
    return salted_hmac("hallq.ticket", str(ticket_id), algorithm="sha256").hexdigest()[:32]


def ticket_token_valid(ticket_id: int, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(ticket_token(ticket_id), str(token))
