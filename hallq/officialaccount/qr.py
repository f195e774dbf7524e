"""The QR code printed on a ticket and shown on its page (§6).

With the official account configured: a temporary parametric QR code (QR_STR_SCENE) whose scene
names the ticket unforgeably (``services.ticket_scene``); scanning it follows the account and
binds the ticket. Without it, or while WeChat cannot be reached (a kiosk must print anyway), the
ticket's own H5 link, which carries the ticket's token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache

from hallq.officialaccount.services import BINDABLE_STATES, ticket_scene
from hallq.queueing.models import Ticket
from hallq.wechat.client import WeChatError, get_client, wechat_configured

logger = logging.getLogger(__name__)

# A ticket served after closing time (the queue runs late) still gets a code that lives a while.
MIN_LIFETIME = timedelta(minutes=30)
MAX_LIFETIME = timedelta(days=30)
# The cached code is replaced a little before WeChat forgets it.
CACHE_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class TicketQr:
    url: str
    expires_at: datetime | None
    kind: str  # "wechat": a parametric code of the official account; "link": the H5 page


def ticket_wechat_qr(*, ticket: Ticket, link: str, now: datetime) -> TicketQr:
    """The code for the ticket, created once and cached until shortly before it expires."""
    fallback = TicketQr(url=link, expires_at=None, kind="link")
    if not wechat_configured() or ticket.state not in BINDABLE_STATES:
        return fallback
    key = f"hallq:ticket-wechat-qr:{ticket.pk}"
    cached: TicketQr | None = cache.get(key)
    if cached is not None:
        return cached
    lifetime = qr_lifetime(ticket, now)
    try:
        code = get_client().create_qr(
            scene=ticket_scene(ticket.pk), expire_seconds=int(lifetime.total_seconds())
        )
    except WeChatError as error:
        logger.warning("no WeChat QR code for ticket %s: %s", ticket.pk, error.errcode)
        return fallback
    qr = TicketQr(url=code.url, expires_at=code.expires_at, kind="wechat")
    cache.set(key, qr, int((code.expires_at - now - CACHE_MARGIN).total_seconds()))
    return qr


def qr_lifetime(ticket: Ticket, now: datetime) -> timedelta:
    """Until the hall closes on the ticket's day (its binding is useless afterwards)."""
    hall = ticket.hall
    closes = datetime.combine(ticket.service_date, hall.closes_at, tzinfo=hall.zone)
    return min(max(closes - now, MIN_LIFETIME), MAX_LIFETIME)
